import { z } from "@hono/zod-openapi";
import { idPattern } from "../../lib/ids";
import { PublicUser } from "../users/users.schemas";

export const GroupId = z.string().regex(idPattern("grp"), "a group id (grp_…)").openapi({ example: "grp_01jd8x2k3m9q7r4t6v8w" });
export const Role = z.enum(["owner", "admin", "member"]);
export const Visibility = z.enum(["public", "private"]).openapi({ description: "private groups are not listed in search or nearby" });
export const JoinPolicy = z.enum(["open", "approval", "invite"]).openapi({
  description: "open: join at once; approval: an owner or admin approves a request; invite: invite only",
});
export const MyState = z.enum(["member", "pending", "invited", "none"]).openapi({
  description: "002's state: member (joined), pending (my join request waits), invited (an invitation waits for me), none",
});

/** An absolute https URL (no credentials, no whitespace): seed 003's group `icon`. */
export const HttpsUrl = z
  .string()
  .trim()
  .max(1024)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "https:" && !u.username && !u.password && !/\s/.test(s);
    } catch {
      return false;
    }
  }, "an https URL")
  .openapi({ format: "uri", example: "https://example.com/icon.png" });

const Location = z.object({ lat: z.number().min(-90).max(90), lng: z.number().min(-180).max(180) }).strict();

const settings = {
  visibility: Visibility,
  join_policy: JoinPolicy,
  members_can_invite: z.boolean(),
  member_list_visible: z.boolean(),
  history_visible: z.boolean().openapi({ description: "new members see messages from before they joined" }),
  member_limit: z.number().int().min(2).max(100_000).openapi({ description: "at most the operator's chatgroup_members_limit (its default)" }),
  location: Location.nullable(),
};

export const GroupCreate = z
  .object({
    name: z.string().trim().min(1).max(64),
    description: z.string().trim().max(500).optional(),
    avatar: z.string().trim().max(1024).optional(),
    icon: HttpsUrl.optional().openapi({ description: "seed 003's group icon: an https image URL (avatar is the uploaded picture)" }),
    ...settings,
  })
  .partial({
    visibility: true,
    join_policy: true,
    members_can_invite: true,
    member_list_visible: true,
    history_visible: true,
    member_limit: true,
    location: true,
  })
  .strict()
  .openapi("GroupCreate");

export const GroupUpdate = z
  .object({
    name: z.string().trim().min(1).max(64),
    description: z.string().trim().max(500).nullable(),
    avatar: z.string().trim().max(1024).nullable(),
    icon: HttpsUrl.nullable(),
    ...settings,
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send at least one field")
  .openapi("GroupUpdate", { description: "visibility and member_limit may be changed by the owner only" });

export const Group = z
  .object({
    id: z.string(),
    name: z.string(),
    description: z.string().nullable(),
    avatar: z.string().nullable(),
    icon: z.string().nullable().openapi({ description: "an https image URL (seed 003), or null" }),
    owner_id: z.string().nullable(),
    creator_id: z.string().nullable(),
    workspace_id: z.string().nullable(),
    visibility: Visibility,
    join_policy: JoinPolicy,
    members_can_invite: z.boolean(),
    member_list_visible: z.boolean(),
    history_visible: z.boolean(),
    member_limit: z.number().int(),
    location: z.object({ lat: z.number(), lng: z.number() }).nullable(),
    member_count: z.number().int(),
    dissolved: z.boolean(),
    dissolved_at: z.string().nullable(),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Group");

export const GroupListItem = Group.extend({ my_role: Role.nullable() }).openapi("GroupListItem");

export const GroupDetail = GroupListItem.extend({
  my_state: MyState,
  my_nickname: z.string().nullable(),
  my_joined_at: z.string().nullable(),
  my_muted_until: z.string().nullable().openapi({ description: "null when I am not muted (an expired mute reads as null)" }),
  my_is_muted: z.boolean(),
}).openapi("GroupDetail");

export const GroupSummary = z
  .object({ id: z.string(), name: z.string(), avatar: z.string().nullable(), member_count: z.number().int(), member_limit: z.number().int() })
  .openapi("GroupSummary");

export const Member = z
  .object({
    user: PublicUser,
    role: Role,
    nickname: z.string().nullable(),
    joined_at: z.string(),
    muted_until: z.string().nullable().openapi({ description: "null when not muted (an expired mute reads as null)" }),
    is_muted: z.boolean(),
  })
  .openapi("GroupMember");

export const MemberStatistics = z
  .object({
    total: z.number().int(),
    male: z.number().int(),
    female: z.number().int(),
    unknown: z.number().int(),
    born_2000s: z.number().int().openapi({ description: "members born 2000-2009 (002's is00sBornNum)" }),
  })
  .openapi("GroupMemberStatistics");

export const MemberUpdate = z
  .object({
    role: z.enum(["admin", "member"]).openapi({ description: "owner only: set (admin) or unset (member) an admin" }),
    muted_minutes: z.number().int().min(0).max(43_200).openapi({ description: "mute for N minutes; 0 unmutes" }),
    nickname: z.string().trim().min(1).max(32).nullable().openapi({ description: "my own nickname in this group (null clears)" }),
  })
  .partial()
  .strict()
  .refine((v) => Object.keys(v).length > 0, "send role, muted_minutes or nickname")
  .openapi("GroupMemberUpdate");

export const JoinRequest = z
  .object({
    id: z.string(),
    group: GroupSummary,
    user: PublicUser,
    reason: z.string().nullable(),
    status: z.enum(["pending", "approved", "rejected", "cancelled"]),
    created_at: z.string(),
  })
  .openapi("GroupJoinRequest");

export const InviteResult = z
  .object({
    user_id: z.string(),
    status: z.enum(["joined", "invited", "already_member", "already_invited", "blocked", "full"]).openapi({
      description: "joined: a friend of the inviter (or a pending requester, when a manager invites) joined at once; invited: must accept",
    }),
  })
  .openapi("GroupInviteResult");

export const JoinResult = z
  .object({
    group_id: z.string(),
    user_id: z.string(),
    state: z.enum(["joined", "pending"]),
    joined_at: z.string().nullable(),
    request_id: z.string().nullable(),
  })
  .openapi("GroupJoinResult");

export const Reason = z.object({ reason: z.string().trim().max(200).optional() }).strict();

export const Limit = (def: number, max: number) => z.coerce.number().int().min(1).max(max).default(def);
export const Offset = z.coerce.number().int().min(0).max(1_000_000).default(0);
