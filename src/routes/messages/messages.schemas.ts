import { z } from "@hono/zod-openapi";
import * as P from "../../protocol";
import { checkMessageShape, ClientId, ClientMessageType, FileId, MessageId } from "../../protocol";

export { checkMessageShape, ClientId, ClientMessageType, Emoji, FileId, MessageId, MESSAGE_TYPES, payloadSchemas } from "../../protocol";
export type { MessageType } from "../../protocol";

export const ConversationId = P.ConversationId.openapi({ example: "grp_01jd8x2k3m9q7r4t6v8w" });

export const SendMessageBody = z
  .object({
    type: ClientMessageType.default("text"),
    content: z.string().max(100_000).optional(),
    payload: z.record(z.string(), z.unknown()).optional(),
    attachments: z.array(FileId).max(9).optional(),
    client_id: ClientId.optional(),
    reply_to: MessageId.optional(),
  })
  .strict()
  .superRefine(checkMessageShape)
  .openapi("SendMessageBody");

export type SendMessageInput = z.infer<typeof SendMessageBody>;

export const MessageView = P.MessageView.openapi("Message");
export type { MessageViewT } from "../../protocol";
