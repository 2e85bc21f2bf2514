// Headers every answer carries. JSON and recordings are data, never a page:
// nothing they hold may run, be framed or be sniffed into HTML. The live page
// sets its own Content-Security-Policy (routes/page.ts).

export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
};
