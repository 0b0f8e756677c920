import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { GroupListItem } from "../groups/groups.schemas";
import { PublicUser, UserId } from "../users/users.schemas";

export const WorkspaceId = z.string().regex(idPattern("ws"), "a workspace id (ws_…)").openapi({ example: "ws_01jd8x2k3m9q7r4t6v8w" });

export const WorkspaceCreate = z
  .object({
    activation_code: z.string().trim().min(1).max(64).openapi({ description: "an unused code issued by an administrator" }),
    name: z.string().trim().min(1).max(64),
    icon: z.string().trim().min(1).max(1024),
    support_user_id: UserId.openapi({ description: "the user who answers customers (003's customer)" }),
  })
  .strict()
  .openapi("WorkspaceCreate");

export const Workspace = z
  .object({
    id: z.string(),
    name: z.string(),
    icon: z.string().nullable(),
    owner_id: z.string(),
    support_user: PublicUser.nullable(),
    member_count: z.number().int(),
    joined: z.boolean(),
    my_role: z.enum(["owner", "member"]).nullable(),
    created_at: z.string(),
  })
  .openapi("Workspace");

export const WorkspaceGroup = GroupListItem.extend({
  joined: z.boolean(),
  state: z.union([z.literal(0), z.literal(1)]).openapi({ description: "003's state: 0 not joined, 1 joined (can chat)" }),
}).openapi("WorkspaceGroup");

export const ActivationCode = z
  .object({
    code: z.string(),
    used: z.boolean(),
    used_by: z.string().nullable(),
    used_at: z.string().nullable(),
    workspace_id: z.string().nullable(),
    created_by: z.string().nullable(),
    created_at: z.string(),
  })
  .openapi("ActivationCode");
