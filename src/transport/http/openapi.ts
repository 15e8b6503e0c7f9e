import type { z } from 'zod/v4';
import * as api from '../apiSchemas.ts';
import { HTTP_STATUS, type ErrorCode } from '../../protocol/errors.ts';
import { asyncApiDocument } from '../asyncapi.ts';
import { docsPage } from './docsPage.ts';
import { ANSWER_SCHEMAS, BODY_SCHEMAS, OPERATIONS, type OperationDoc, type Shape } from './operations.ts';
import { CATCH_ALL, type createRouter, type Method, type RegisteredRoute } from './router.ts';

const BASE = '/api/v1';

/*
 * The published HTTP API (OpenAPI 3.1 at /api/v1/openapi.json): the description of each route
 * (operations.ts), joined with what the router recorded of it (its role, whether it reads a
 * body). Bodies are the zod schemas the handlers parse (schemas.ts); answers are the shapes of
 * apiSchemas.ts. A registered route without a description is reported (`undocumented`, logged
 * at start), and the wire test fails on it. Also /api/v1/asyncapi.json and the /docs page.
 */

/** Request bodies and answers published under components/schemas, by name. */
const COMPONENTS: Readonly<Record<string, z.ZodType>> = { ...ANSWER_SCHEMAS, ...BODY_SCHEMAS };
/** Request bodies are described as accepted (fields with defaults optional), answers as answered. */
const REQUEST_BODIES: ReadonlySet<z.ZodType> = new Set(Object.values(BODY_SCHEMAS));
const componentName = new Map<z.ZodType, string>(Object.entries(COMPONENTS).map(([n, s]) => [s, n]));
const PATH_PARAMS: Readonly<Record<string, string>> = {
  id: 'the market id or its symbol',
  orderId: 'the order id',
  userId: 'the user id',
};
const OPENAPI_METHOD: Readonly<Record<Exclude<Method, 'any'>, string>> = {
  get: 'get',
  post: 'post',
  put: 'put',
  del: 'delete',
};

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
/** A schema as a `$ref` to its component when it has one, else inline. */
function schemaOf(schema: z.ZodType, io: 'input' | 'output'): object {
  const name = componentName.get(schema);
  return name === undefined ? api.jsonSchema(schema, io) : ref(name);
}

export const operationKey = (route: Pick<RegisteredRoute, 'method' | 'pattern'>): string =>
  `${route.method} ${route.pattern}`;

/** `/markets/:id/book` → `/markets/{id}/book`. */
export const openApiPath = (pattern: string): string => pattern.replace(/:([A-Za-z]+)/g, '{$1}');

/**
 * The OpenAPI 3.1 document of the registered routes (the catch-all aside), and the registered
 * routes without a description (which the document then lacks).
 */
export function openApiDocument(routes: readonly RegisteredRoute[]): {
  document: Record<string, unknown>;
  undocumented: readonly RegisteredRoute[];
} {
  const paths: Record<string, Record<string, unknown>> = {};
  const undocumented: RegisteredRoute[] = [];
  for (const route of routes) {
    if (route.pattern === CATCH_ALL) continue;
    const doc = OPERATIONS[operationKey(route)];
    if (doc === undefined || route.method === 'any') {
      undocumented.push(route);
      continue;
    }
    const path = openApiPath(route.pattern);
    paths[path] = { ...paths[path], [OPENAPI_METHOD[route.method]]: operation(route, doc) };
  }
  const schemas = Object.fromEntries(
    Object.entries(COMPONENTS).map(([name, schema]) => [
      name,
      api.jsonSchema(schema, REQUEST_BODIES.has(schema) ? 'input' : 'output'),
    ]),
  );
  const document = {
    openapi: '3.1.0',
    info: {
      title: 'RWA exchange HTTP API',
      version: '1.1',
      description:
        'The JSON half of the exchange (PROTOCOL.md, HTTP). Every GET route answers HEAD too. ' +
        'Errors are {error:{code, message, requestId}}; every answer carries X-Request-Id. ' +
        'The WebSocket API is described at /api/v1/asyncapi.json.',
    },
    servers: [{ url: '/' }],
    tags: [...new Set(Object.values(OPERATIONS).map((o) => o.tag))].map((name) => ({ name })),
    paths,
    components: {
      schemas,
      securitySchemes: {
        bearer: {
          type: 'http',
          scheme: 'bearer',
          bearerFormat: 'JWT',
          description: 'HS256 JWT: sub (user id), roles (trader, issuer, admin), exp',
        },
        signature: {
          type: 'apiKey',
          in: 'header',
          name: 'X-Signature',
          description: 't=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with WEBHOOK_SECRET>',
        },
      },
      headers: {
        'X-Request-Id': {
          description: 'the request id (the client’s, or a new one)',
          schema: { type: 'string' },
        },
        'X-Next-Cursor': {
          description: 'the cursor of the next page; absent on the last page',
          schema: { type: 'string' },
        },
      },
    },
  };
  return { document, undocumented };
}

function operation(route: RegisteredRoute, doc: OperationDoc): Record<string, unknown> {
  const parameters = [
    ...[...route.pattern.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({
      name,
      in: 'path',
      required: true,
      description: PATH_PARAMS[name!] ?? name,
      schema: { type: 'string' },
    })),
    ...(doc.query ?? []).map((q) => ({
      name: q.name,
      in: 'query',
      required: false,
      description: q.description,
      schema: api.jsonSchema(q.schema, 'input'),
    })),
  ];
  const headers = { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } };
  const ok = {
    description: doc.summary,
    headers:
      doc.ok.paged === true
        ? { ...headers, 'X-Next-Cursor': { $ref: '#/components/headers/X-Next-Cursor' } }
        : headers,
    content: content(doc.ok.shape),
  };
  return {
    operationId: operationKey(route).replace(/[^A-Za-z0-9]+/g, '_'),
    summary: doc.summary,
    tags: [doc.tag],
    ...(route.role === undefined ? {} : { description: `Needs the ${route.role} role.` }),
    ...(route.role !== undefined
      ? { security: [{ bearer: [] }], 'x-role': route.role }
      : doc.signature === true
        ? { security: [{ signature: [] }] }
        : {}),
    ...(parameters.length === 0 ? {} : { parameters }),
    ...(doc.body === undefined
      ? {}
      : {
          requestBody: {
            required: doc.body.optional !== true,
            content: { 'application/json': { schema: schemaOf(doc.body.schema, 'input') } },
          },
        }),
    responses: { [String(doc.ok.status)]: ok, ...errorResponses(route, doc) },
  };
}

function content(shape: Shape): Record<string, unknown> {
  if (shape === 'text') return { 'text/plain': { schema: { type: 'string' } } };
  if (shape === 'html') return { 'text/html': { schema: { type: 'string' } } };
  const schema =
    'list' in shape ? { type: 'array', items: schemaOf(shape.list, 'output') } : schemaOf(shape, 'output');
  return { 'application/json': { schema } };
}

/** The error answers of a route, by status: the handler's codes and those the router answers for it. */
function errorResponses(route: RegisteredRoute, doc: OperationDoc): Record<string, unknown> {
  const codes = new Set<ErrorCode>(['rate_limited', 'overloaded', 'unavailable', ...(doc.errors ?? [])]);
  const reads = route.body !== false || (doc.query?.length ?? 0) > 0 || route.pattern.includes(':');
  if (reads) codes.add('bad_request');
  if (route.role !== undefined) {
    codes.add('unauthorized');
    codes.add('forbidden');
  }
  const byStatus = new Map<number, string[]>();
  for (const code of codes)
    byStatus.set(HTTP_STATUS[code], [...(byStatus.get(HTTP_STATUS[code]) ?? []), code]);
  if (route.body !== false) {
    byStatus.set(413, ['bad_request (body too large)']);
    byStatus.set(408, ['bad_request (body not received in time)']);
  }
  if (doc.signature === true) byStatus.set(401, ['unauthorized (missing, wrong or stale signature)']);
  const answers: Record<string, unknown> = {};
  for (const [status, named] of [...byStatus].sort(([a], [b]) => a - b)) {
    answers[String(status)] = {
      description:
        doc.more?.[status] === undefined ? named.join(', ') : `${doc.more[status]}; or ${named.join(', ')}`,
      headers: { 'X-Request-Id': { $ref: '#/components/headers/X-Request-Id' } },
      content: {
        'application/json': {
          // A status the route answers with its own body too (503 from /health) may carry either.
          schema:
            doc.more?.[status] === undefined
              ? ref('Error')
              : {
                  anyOf: [
                    ref('Error'),
                    ...Object.values(content(doc.ok.shape)).map((c) => (c as { schema: object }).schema),
                  ],
                },
        },
      },
    };
  }
  return answers;
}

/**
 * GET /api/v1/openapi.json, /api/v1/asyncapi.json and /docs, each made once on first request (by
 * then every route is registered). Register before the catch-all.
 */
export function registerApiDocs(route: ReturnType<typeof createRouter>): void {
  let made: { openapi: string; asyncapi: string; page: string } | undefined;
  const documents = () => {
    if (made !== undefined) return made;
    const openapi = openApiDocument(route.registered()).document;
    const asyncapi = asyncApiDocument();
    made = {
      openapi: JSON.stringify(openapi),
      asyncapi: JSON.stringify(asyncapi),
      page: docsPage(openapi, asyncapi),
    };
    return made;
  };
  route('get', `${BASE}/openapi.json`, {}, () => ({
    status: 200,
    text: documents().openapi,
    contentType: 'application/json',
  }));
  route('get', `${BASE}/asyncapi.json`, {}, () => ({
    status: 200,
    text: documents().asyncapi,
    contentType: 'application/json',
  }));
  route('get', '/docs', {}, () => ({
    status: 200,
    text: documents().page,
    contentType: 'text/html; charset=utf-8',
    headers: { 'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'" },
  }));
}
