import type { Db, Env } from "../env";
import { notifications } from "../db/schema";
import { log } from "../middleware/observability";
import { serverFrame } from "../protocol";
import { pushToUsers } from "../realtime/push";
import { newId } from "./ids";

export type NotificationKind =
  | "friend_request" | "friend_accepted" | "friend_rejected" | "friend_removed"
  | "group_join_request" | "group_join_approved" | "group_join_rejected" | "group_invite"
  | "group_joined" | "group_left" | "group_kicked" | "group_muted" | "group_unmuted" | "group_role_changed"
  | "group_owner_transferred" | "group_dissolved" | "workspace_joined" | "moment_liked" | "moment_commented"
  | "report_resolved";

export interface NotificationInput {
  userId: string;
  kind: NotificationKind;
  actorId?: string | null;
  subjectId?: string | null;
  data?: Record<string, unknown>;
}

export function notificationView(n: typeof notifications.$inferSelect) {
  return {
    id: n.id,
    kind: n.kind,
    actor_id: n.actorId,
    subject_id: n.subjectId,
    data: n.data,
    read: n.readAt !== null,
    read_at: n.readAt,
    created_at: n.createdAt,
  };
}

/**
 * The one way to tell users something happened: stores each notification, then pushes it live to
 * the recipients' devices through their UserDO. Storing is the guarantee; a failed push is only logged
 * (the client catches up from GET /notifications).
 */
export async function notify(env: Env, db: Db, inputs: NotificationInput[]) {
  if (!inputs.length) return [];
  const rows = inputs.map((n) => ({
    id: newId("ntf"),
    userId: n.userId,
    kind: n.kind,
    actorId: n.actorId ?? null,
    subjectId: n.subjectId ?? null,
    data: n.data ?? {},
    readAt: null,
    createdAt: new Date().toISOString(),
  }));
  const inserts = rows.map((r) => db.insert(notifications).values(r));
  await db.batch(inserts as [(typeof inserts)[0], ...typeof inserts]);
  await Promise.all(
    rows.map((r) =>
      pushToUsers(env, [r.userId], [serverFrame("notification", { notification: notificationView(r) })]).catch((err) =>
        log("warn", "notification push failed", { user_id: r.userId, kind: r.kind, error: String(err) }),
      ),
    ),
  );
  return rows;
}
