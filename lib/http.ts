// HTTP plumbing shared by the gateway and the subgraphs: JSON bodies with a stated limit, errors as JSON.
import express, { type ErrorRequestHandler, type RequestHandler } from 'express';
import { CORRELATION_HEADER, acceptCorrelationId, withCorrelationId } from './correlation';
import { jsonTextDepth } from './untrusted-json';

export const BODY_LIMIT = process.env.USAGEGRAPH_BODY_LIMIT ?? '32mb';

/** Levels of objects and arrays a request body may nest: far above any real request, far below what breaks recursion. */
export const MAX_BODY_DEPTH = 64;

export function jsonBody(): RequestHandler {
  return express.json({
    limit: BODY_LIMIT,
    // Checked on the bytes before parsing: deeper bodies broke JSON.stringify when the gateway forwarded them.
    verify: (_req, _res, buf) => {
      if (jsonTextDepth(buf, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) throw tooDeep();
    },
  });
}

const tooDeep = () => Object.assign(new Error('request body nests too deep'), { status: 400, type: 'entity.too.deep' });

/** The body as bytes, whatever its type: a signature is checked over exactly what was sent. */
export function rawBody(): RequestHandler {
  return express.raw({ type: () => true, limit: BODY_LIMIT });
}

/** JSON from a body already read as bytes (by rawBody); an empty body stays empty for GET. */
export const jsonFromRawBody: RequestHandler = (req, res, next) => {
  if (!Buffer.isBuffer(req.body)) return next();
  if (req.body.length === 0) {
    req.body = {};
    return next();
  }
  if (jsonTextDepth(req.body, MAX_BODY_DEPTH) > MAX_BODY_DEPTH) return next(tooDeep());
  try {
    req.body = JSON.parse(req.body.toString('utf8'));
    next();
  } catch {
    res.status(400).json({
      errors: [
        {
          message: 'request body is not valid JSON',
          extensions: { code: 'BAD_REQUEST', expected: 'a JSON GraphQL request' },
        },
      ],
    });
  }
};

/** A GraphQL-shaped refusal outside GraphQL execution: 401/403/413/429 with a stable code. */
export function refuse(res: express.Response, status: number, code: string, message: string, extra: object = {}): void {
  res.status(status).json({ errors: [{ message, extensions: { code, ...extra } }] });
}

/** Accepts the caller's correlation id (or makes one), returns it on the response, and scopes the request's logs to it. */
export function correlation(): RequestHandler {
  return (req, res, next) => {
    const correlationId = acceptCorrelationId(req.headers[CORRELATION_HEADER]);
    res.setHeader(CORRELATION_HEADER, correlationId);
    res.locals.correlationId = correlationId;
    withCorrelationId(correlationId, () => next());
  };
}

/** Body-parser failures as GraphQL-shaped JSON: a 413 names the limit, a 400 says the JSON is malformed. */
export const jsonErrors: ErrorRequestHandler = (error, _req, res, next) => {
  if (res.headersSent) return next(error);
  const status = typeof error?.status === 'number' ? error.status : 500;
  const body =
    error?.type === 'entity.too.large'
      ? {
          message: `request body of ${error.length} bytes is over the ${BODY_LIMIT} limit`,
          extensions: { code: 'PAYLOAD_TOO_LARGE', expected: `a body of at most ${BODY_LIMIT}; split the batch` },
        }
      : error?.type === 'entity.too.deep'
        ? {
            message: `request body nests more than ${MAX_BODY_DEPTH} levels of objects and arrays`,
            extensions: { code: 'LIMIT_EXCEEDED', expected: `at most ${MAX_BODY_DEPTH} levels` },
          }
        : error?.type === 'entity.parse.failed'
          ? {
              message: 'request body is not valid JSON',
              extensions: { code: 'BAD_REQUEST', expected: 'a JSON GraphQL request' },
            }
          : {
              message: 'request failed',
              extensions: { code: status >= 500 ? 'INTERNAL_SERVER_ERROR' : 'BAD_REQUEST' },
            };
  res.status(status).json({ errors: [body] });
};
