// Request signing of the two SMS providers, as their documentation describes it:
// Aliyun's RPC signature (version 1.0, HMAC-SHA1 over the canonicalized query) and Tencent
// Cloud's TC3-HMAC-SHA256 (API 3.0).

import { createHash, createHmac } from 'node:crypto';

/** Aliyun's percentEncode: RFC 3986 unreserved characters kept, space as %20, UTF-8 bytes as %XY. */
export function aliyunPercentEncode(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The RPC signature: StringToSign = METHOD & percentEncode("/") & percentEncode(canonicalized
 * query), the query being every parameter but Signature, sorted by name, each name and value
 * percent-encoded; Signature = Base64(HMAC-SHA1(secret + "&", StringToSign)).
 */
export function aliyunSignature(method: string, params: Readonly<Record<string, string>>, secret: string): { signature: string; stringToSign: string } {
  const canonical = Object.keys(params)
    .filter((k) => k !== 'Signature')
    .sort()
    .map((k) => `${aliyunPercentEncode(k)}=${aliyunPercentEncode(params[k])}`)
    .join('&');
  const stringToSign = `${method}&${aliyunPercentEncode('/')}&${aliyunPercentEncode(canonical)}`;
  return { signature: createHmac('sha1', `${secret}&`).update(stringToSign, 'utf8').digest('base64'), stringToSign };
}

/** Aliyun's Timestamp: ISO 8601 in UTC without milliseconds. */
export function aliyunTimestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const sha256hex = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const hmac = (key: string | Buffer, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

export interface Tc3Input {
  secretId: string;
  secretKey: string;
  /** The service: `sms`, `vms`. */
  service: string;
  host: string;
  contentType: string;
  body: string;
  /** Unix seconds. */
  timestamp: number;
}

/**
 * TC3-HMAC-SHA256: canonical request POST / (no query) with the signed headers content-type and
 * host, credential scope date/service/tc3_request, the signing key derived from "TC3" + secret
 * through the date, the service and "tc3_request". Returns the Authorization header.
 */
export function tc3Authorization(i: Tc3Input): string {
  const date = new Date(i.timestamp * 1000).toISOString().slice(0, 10);
  const signedHeaders = 'content-type;host';
  const canonicalHeaders = `content-type:${i.contentType.toLowerCase()}\nhost:${i.host.toLowerCase()}\n`;
  const canonicalRequest = ['POST', '/', '', canonicalHeaders, signedHeaders, sha256hex(i.body)].join('\n');
  const scope = `${date}/${i.service}/tc3_request`;
  const stringToSign = ['TC3-HMAC-SHA256', String(i.timestamp), scope, sha256hex(canonicalRequest)].join('\n');
  const key = hmac(hmac(hmac(`TC3${i.secretKey}`, date), i.service), 'tc3_request');
  const signature = createHmac('sha256', key).update(stringToSign, 'utf8').digest('hex');
  return `TC3-HMAC-SHA256 Credential=${i.secretId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`;
}
