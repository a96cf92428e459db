import axios, { type AxiosInstance } from 'axios';
import type { Host } from '../host/host.ts';

/** The one HTTP client: base URL through the vSphere Client proxy, a fresh session token on every call. */
export function createHttp(host: Host): AxiosInstance {
  const http = axios.create({ timeout: 60_000, headers: { Accept: 'application/json', 'Cache-Control': 'no-cache' } });
  http.interceptors.request.use(async (config) => {
    const [baseURL, token] = await Promise.all([host.backendBaseUrl(), host.sessionToken()]);
    config.baseURL = baseURL;
    config.headers.set('vmware-api-session-id', token);
    return config;
  });
  return http;
}
