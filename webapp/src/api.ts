// The JSON API client: same-origin requests, the CSRF token on every write, errors as ApiError.

/** An error answer of the API: HTTP status, stable code, message and where. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly location?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

let csrfToken = '';

/** Remembers the session's CSRF token (sent as X-CSRF-Token on writes). */
export function setCsrfToken(token: string): void {
  csrfToken = token;
}

/** Calls the API and returns the parsed JSON (or undefined for 204). Throws ApiError. */
export async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const init: RequestInit = { method, credentials: 'same-origin', headers: { Accept: 'application/json', ...headers } };
  const sendHeaders = init.headers as Record<string, string>;
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    sendHeaders['Content-Type'] = 'application/json';
  }
  if (method !== 'GET' && csrfToken) sendHeaders['X-CSRF-Token'] = csrfToken;
  let response: Response;
  try {
    response = await fetch(`/api/v1${path}`, init);
  } catch {
    throw new ApiError(0, 'network', 'the server could not be reached; check the connection and try again');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown = undefined;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; location?: string } } | undefined)?.error;
    throw new ApiError(response.status, error?.code ?? 'http_' + response.status, error?.message ?? response.statusText, error?.location);
  }
  return json as T;
}

/** A human sentence for an error (capitalised), with where it happened when the API said. */
export function describeError(error: unknown): string {
  const sentence = (text: string) => (text ? text[0].toUpperCase() + text.slice(1) : text);
  if (error instanceof ApiError) return sentence(error.location ? `${error.message} (at ${error.location})` : error.message);
  if (error instanceof Error) return sentence(error.message);
  return sentence(String(error));
}
