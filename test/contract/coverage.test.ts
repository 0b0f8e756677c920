import { expect, it } from "vitest";
import { call } from "../helpers";
import { slices } from "./contract";

it("the contract slices cover every documented path", async () => {
  const doc = (await call("GET", "/openapi.json")).body as { paths: Record<string, unknown> };
  const missed = Object.keys(doc.paths).filter((p) => !p.startsWith("/ws") && !p.startsWith("/dev/") && !Object.values(slices).some((covers) => covers(p)));
  expect(missed).toEqual([]);
});
