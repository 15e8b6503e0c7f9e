import { sourceKey } from '../rateLimit.ts';
import type { Route } from '../http.ts';

/** What receives a notification of the entity-permissions service (src/integrations/webhooks.ts does). */
export interface WebhookReceiver {
  handleWebhook(request: {
    readonly rawBody: Buffer;
    readonly headers: {
      readonly signature?: string | undefined;
      readonly snsMessageType?: string | undefined;
    };
    readonly now: number;
    readonly sourceAddress: string;
  }): Promise<{ readonly status: number; readonly body: object }>;
}

/**
 * POST /api/v1/webhooks/entity-permissions (PROTOCOL.md, Compliance webhook): the raw body and the
 * signature headers go to the receiver as they came (the signature is over the raw bytes).
 */
export function registerWebhookRoutes(route: Route, receiver: WebhookReceiver): void {
  route(
    'post',
    '/api/v1/webhooks/entity-permissions',
    { body: 'raw', headers: ['x-signature', 'x-amz-sns-message-type'] },
    async ({ rawBody, headers, remoteAddress }) => {
      const answer = await receiver.handleWebhook({
        sourceAddress: sourceKey(remoteAddress),
        rawBody: rawBody ?? Buffer.alloc(0),
        headers: {
          signature: headers['x-signature'] === '' ? undefined : headers['x-signature'],
          snsMessageType:
            headers['x-amz-sns-message-type'] === '' ? undefined : headers['x-amz-sns-message-type'],
        },
        now: Date.now(),
      });
      return { status: answer.status, json: answer.body };
    },
  );
}
