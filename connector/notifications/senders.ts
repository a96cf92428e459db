// The two ways a notification leaves the connector: an HTTPS webhook call signed with the target's secret, and an
// e-mail through the configured SMTP relay. Each returns whether the attempt succeeded and whether to retry.
import { createHmac } from 'node:crypto';
import { request } from 'node:https';
import { rootCertificates } from 'node:tls';
import nodemailer from 'nodemailer';
import { WEBHOOK_HEADERS, type NotificationPayload } from '../contract/index.ts';
import type { ConnectorConfig } from '../config.ts';

export interface SendResult {
  ok: boolean;
  /** Worth another attempt later (5xx, 408, 429, timeouts, connection errors). */
  retryable: boolean;
  statusCode?: number;
  message: string;
}

/** `sha256=<hex>` of the exact body bytes, keyed by the target's secret. */
export const signBody = (secret: string, body: string) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

const trust = (extra: string | undefined) => (extra ? [...rootCertificates, extra] : undefined);

export async function sendWebhook(
  url: string,
  secret: string,
  payload: NotificationPayload,
  opts: { timeoutMs: number; caPem?: string | undefined },
): Promise<SendResult> {
  const body = JSON.stringify(payload);
  const ca = trust(opts.caPem);
  return new Promise<SendResult>((resolve) => {
    const req = request(
      url,
      {
        method: 'POST',
        // TLS validation always on; a configured CA is trusted besides the system's.
        ...(ca ? { ca } : {}),
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          'user-agent': 'vm2ec2-connector',
          [WEBHOOK_HEADERS.signature]: signBody(secret, body),
          [WEBHOOK_HEADERS.idempotency]: payload.id,
          [WEBHOOK_HEADERS.event]: payload.kind,
        },
        timeout: opts.timeoutMs,
      },
      (res) => {
        res.resume();
        res.on('end', () => {
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300) resolve({ ok: true, retryable: false, statusCode: code, message: `HTTP ${code}` });
          else
            resolve({
              ok: false,
              retryable: code >= 500 || code === 408 || code === 429,
              statusCode: code,
              message: `The webhook answered HTTP ${code}${code >= 400 && code < 500 && code !== 408 && code !== 429 ? ': not retried, check the URL and the receiver' : ''}.`,
            });
        });
        res.on('error', (err) => resolve({ ok: false, retryable: true, statusCode: res.statusCode ?? 0, message: `The webhook's answer broke off: ${err.message}` }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
    req.on('error', (err) => resolve({ ok: false, retryable: true, message: `Could not deliver to the webhook: ${err.message}` }));
    req.end(body);
  });
}

type SmtpConfig = NonNullable<ConnectorConfig['notifications']['email']>;

export async function sendEmail(smtp: SmtpConfig, recipients: readonly string[], payload: NotificationPayload, timeoutMs: number): Promise<SendResult> {
  const ca = trust(smtp.caPem);
  const transport = nodemailer.createTransport({
    host: smtp.host,
    port: smtp.port,
    secure: smtp.port === 465,
    requireTLS: smtp.startTls,
    ...(smtp.user ? { auth: { user: smtp.user, pass: smtp.password ?? '' } } : {}),
    tls: { ...(ca ? { ca } : {}), rejectUnauthorized: true },
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
    logger: false,
  });
  try {
    const info = await transport.sendMail({
      from: smtp.from,
      to: [...recipients],
      subject: `[vm2ec2] ${payload.text.length > 120 ? `${payload.text.slice(0, 117)}...` : payload.text}`,
      text: `${payload.text}\n\nNotification id: ${payload.id}\n\n${JSON.stringify(payload, null, 2)}\n`,
      headers: { 'X-Vm2ec2-Idempotency-Id': payload.id, 'X-Vm2ec2-Event': payload.kind },
    });
    return { ok: true, retryable: false, message: `Accepted by ${smtp.host}:${smtp.port} for ${info.accepted.length} recipient(s).` };
  } catch (err) {
    const e = err as { responseCode?: number; message?: string };
    // 5xx from the relay is permanent (bad recipient, refused credentials); everything else may pass later.
    const permanent = typeof e.responseCode === 'number' && e.responseCode >= 500;
    return { ok: false, retryable: !permanent, message: `The SMTP relay ${smtp.host}:${smtp.port} did not take the e-mail: ${e.message ?? String(err)}` };
  } finally {
    transport.close();
  }
}
