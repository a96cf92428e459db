// The lab's S3: s3rver in process behind a shim that adds the operations s3rver lacks, or a discarding sink.
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3ClientConfig } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { createS3Shim, S3Faults, type S3Operation } from './shim.ts';
import { createS3Sink, type SinkObjectStats } from './sink.ts';

export type { Grant, S3Fault, S3Operation } from './shim.ts';
export { S3Faults } from './shim.ts';
export { compositeSha256, type SinkObjectStats, type SinkPart } from './sink.ts';

const ACCESS_KEY = 'S3RVER';

export interface S3Handle {
  /** Path-style endpoint, `http://127.0.0.1:<port>`. */
  url: string;
  accessKeyId: 'S3RVER';
  secretAccessKey: 'S3RVER';
  stop(): Promise<void>;
}

/** The s3rver-backed lab S3, with failure injection. */
export interface LabS3Handle extends S3Handle {
  /** Faults for the next requests of an operation, and per-operation request counts. */
  faults: S3Faults;
  /** The next `count` UploadPart requests lose their connection mid-body (the SDK sees ECONNRESET/EPIPE). */
  resetUploadParts(count: number): void;
  /** The next `count` requests of `op` answer 503 SlowDown. */
  slowDown(op: S3Operation | '*', count: number): void;
}

export interface S3SinkHandle extends S3Handle {
  /** Byte count and hashes of a completed object, or undefined. */
  sinkStats(bucket: string, key: string): SinkObjectStats | undefined;
}

export interface StartS3Options {
  /** Keep objects here (kept on stop); default a temp directory removed on stop. */
  directory?: string;
  /** Buckets to create at start. */
  buckets?: string[];
  sink?: false;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

/** `hash: false` skips the sink's per-part SHA-256 (stats then carry empty hashes), so it costs only socket reads. */
export async function startS3(opts: { sink: true; hash?: boolean }): Promise<S3SinkHandle>;
export async function startS3(opts?: StartS3Options): Promise<LabS3Handle>;
export async function startS3(opts: StartS3Options | { sink: true; hash?: boolean } = {}): Promise<LabS3Handle | S3SinkHandle> {
  if (opts.sink === true) {
    const sink = createS3Sink({ hash: opts.hash ?? true });
    const port = await listen(sink.server);
    return {
      url: `http://127.0.0.1:${port}`,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: ACCESS_KEY,
      sinkStats: sink.stats,
      stop: () => close(sink.server),
    };
  }

  const options = opts as StartS3Options;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'lab-s3-')));
  const s3rver = new S3rver({
    address: '127.0.0.1',
    port: 0,
    directory,
    silent: true,
    vhostBuckets: false,
    configureBuckets: (options.buckets ?? []).map((name) => ({ name })),
  });
  try {
    const { port: s3rverPort } = await s3rver.run();
    const faults = new S3Faults();
    const shim = createS3Shim(directory, s3rverPort, ACCESS_KEY, faults);
    const port = await listen(shim);
    return {
      url: `http://127.0.0.1:${port}`,
      accessKeyId: ACCESS_KEY,
      secretAccessKey: ACCESS_KEY,
      faults,
      resetUploadParts: (count) => faults.inject('UploadPart', 'reset', count),
      slowDown: (op, count) => faults.inject(op, 'slow-down', count),
      async stop() {
        await close(shim);
        // Like the other lab servers: connections still open (a client that never read its body) must not hold the stop.
        const closing = s3rver.close();
        s3rver.httpServer?.closeAllConnections();
        await closing;
        if (options.directory === undefined) await rm(directory, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (options.directory === undefined) await rm(directory, { recursive: true, force: true });
    throw err;
  }
}

/** Client settings every lab S3 client needs: path-style URLs, no aws-chunked checksum framing. */
export function labS3ClientConfig(handle: Pick<S3Handle, 'url' | 'accessKeyId' | 'secretAccessKey'>, region = 'us-east-1'): S3ClientConfig {
  return {
    region,
    endpoint: handle.url,
    forcePathStyle: true,
    credentials: { accessKeyId: handle.accessKeyId, secretAccessKey: handle.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  };
}
