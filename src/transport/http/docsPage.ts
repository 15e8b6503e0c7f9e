/*
 * GET /docs: the published documents as one plain HTML page, made by the server from the same
 * OpenAPI and AsyncAPI documents it serves. No script, no external resource (it works offline and
 * under `default-src 'none'`): operations, parameters, bodies and answers as JSON Schema.
 */

type Json = Record<string, unknown>;

const escape = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );

const text = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));
const pre = (value: unknown): string => `<pre>${escape(JSON.stringify(value, null, 2))}</pre>`;
const anchor = (text: string): string => text.replace(/[^A-Za-z0-9]+/g, '-');

/** A `$ref` to a component as a link to its section; anything else as JSON. */
function schemaHtml(schema: unknown): string {
  const target = (schema as { $ref?: unknown } | undefined)?.$ref;
  if (typeof target === 'string') {
    const name = target.split('/').at(-1)!;
    return `<p>schema <a href="#schema-${anchor(name)}">${escape(name)}</a></p>`;
  }
  const items = (schema as { items?: { $ref?: unknown } } | undefined)?.items;
  if (typeof items?.$ref === 'string') return `<p>array of</p>${schemaHtml(items)}`;
  return pre(schema);
}

const CSS =
  'body{font:15px/1.45 system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem;color:#222}' +
  'h2{border-bottom:1px solid #ccc;margin-top:2.5rem}h3{margin:1.5rem 0 .3rem;font-family:monospace}' +
  '.m{display:inline-block;min-width:4.5em;font-weight:bold}pre{background:#f5f5f5;padding:.6rem;overflow:auto;font-size:13px}' +
  'table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}' +
  'nav a{margin-right:1rem}';

export function docsPage(openapi: Json, asyncapi: Json): string {
  const info = openapi.info as { title: string; version: string; description: string };
  const paths = openapi.paths as Record<string, Record<string, Json>>;
  const schemas = (openapi.components as { schemas: Record<string, unknown> }).schemas;
  const parts: string[] = [];
  parts.push(
    `<h1>${escape(info.title)} <small>${escape(info.version)}</small></h1><p>${escape(info.description)}</p>`,
    '<nav><a href="#http">HTTP</a><a href="#ws">WebSocket</a><a href="#schemas">Schemas</a>' +
      '<a href="/api/v1/openapi.json">openapi.json</a><a href="/api/v1/asyncapi.json">asyncapi.json</a></nav>',
    '<h2 id="http">HTTP operations</h2>',
  );
  for (const [path, methods] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(methods)) {
      parts.push(
        `<h3 id="${anchor(`${method} ${path}`)}"><span class="m">${method.toUpperCase()}</span>${escape(path)}</h3>`,
      );
      parts.push(
        `<p>${escape(text(op.summary))}${op.description === undefined ? '' : ` ${escape(text(op.description))}`}</p>`,
      );
      const security = op.security as Json[] | undefined;
      if (security !== undefined)
        parts.push(`<p>Auth: ${escape(security.map((s) => Object.keys(s).join()).join(', '))}</p>`);
      const parameters = (op.parameters ?? []) as {
        name: string;
        in: string;
        description?: string;
        schema: unknown;
      }[];
      if (parameters.length > 0) {
        parts.push('<table><tr><th>parameter</th><th>in</th><th>description</th><th>schema</th></tr>');
        for (const p of parameters) {
          parts.push(
            `<tr><td><code>${escape(p.name)}</code></td><td>${p.in}</td><td>${escape(p.description ?? '')}</td><td><code>${escape(JSON.stringify(p.schema))}</code></td></tr>`,
          );
        }
        parts.push('</table>');
      }
      const body = op.requestBody as
        { required: boolean; content: Record<string, { schema: unknown }> } | undefined;
      if (body !== undefined) {
        parts.push(`<p><b>Body</b> (${body.required ? 'required' : 'optional'})</p>`);
        for (const media of Object.values(body.content)) parts.push(schemaHtml(media.schema));
      }
      parts.push('<p><b>Answers</b></p><ul>');
      for (const [status, answer] of Object.entries(op.responses as Record<string, Json>)) {
        const media = Object.values((answer.content ?? {}) as Record<string, { schema: unknown }>)[0];
        const headers = Object.keys((answer.headers ?? {}) as Json).filter((h) => h !== 'X-Request-Id');
        parts.push(
          `<li><b>${status}</b> ${escape(text(answer.description))}${headers.length > 0 ? ` (header ${escape(headers.join(', '))})` : ''}${status.startsWith('2') && media !== undefined ? schemaHtml(media.schema) : ''}</li>`,
        );
      }
      parts.push('</ul>');
    }
  }
  parts.push('<h2 id="ws">WebSocket (/ws)</h2>');
  const channels = asyncapi.channels as { ws: { description: string; messages: Record<string, Json> } };
  parts.push(
    `<p>${escape(text((asyncapi.info as Json).description))} ${escape(channels.ws.description)}</p>`,
  );
  for (const [id, op] of Object.entries(asyncapi.operations as Record<string, Json>)) {
    const names = (op.messages as { $ref: string }[]).map((m) => m.$ref.split('/').at(-1)!);
    const replies = ((op.reply as { messages: { $ref: string }[] } | undefined)?.messages ?? []).map((m) =>
      m.$ref.split('/').at(-1)!,
    );
    parts.push(
      `<h3 id="ws-${anchor(id)}">${op.action === 'receive' ? 'request' : 'push'} ${escape(names.join())}</h3>`,
    );
    parts.push(
      `<p>${escape(text(op.summary))}${replies.length > 0 ? `; replies: ${escape(replies.join(', '))}` : ''}</p>`,
    );
    for (const name of names) parts.push(pre(channels.ws.messages[name]?.payload));
  }
  const replyNames = Object.keys(channels.ws.messages).filter(
    (n) => channels.ws.messages[n]!.title === `${n} reply`,
  );
  for (const name of replyNames)
    parts.push(`<h3>reply ${escape(name)}</h3>${pre(channels.ws.messages[name]!.payload)}`);
  parts.push('<h2 id="schemas">Schemas</h2>');
  for (const [name, schema] of Object.entries(schemas)) {
    parts.push(`<h3 id="schema-${anchor(name)}">${escape(name)}</h3>${pre(schema)}`);
  }
  return (
    `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>${escape(info.title)}</title>` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><style>${CSS}</style></head><body>` +
    `${parts.join('\n')}</body></html>`
  );
}
