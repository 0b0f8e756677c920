import { describe, expect, it } from "vitest";
import { SELF } from "cloudflare:test";
import { BASE, call, expectError, signup, testEnv } from "../helpers";

describe("system endpoints (seed 001)", () => {
  it("GET /health", async () => {
    const res = await call("GET", "/health");
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ success: true, message: "Server is running", data: { status: "ok" } });
    expect(typeof res.body.data.timestamp).toBe("number");
    expect(typeof res.body.data.uptime).toBe("string");
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  it("GET /info", async () => {
    const res = await call("GET", "/info");
    expect(res.body).toMatchObject({ success: true, message: "Server information retrieved successfully" });
    expect(Object.keys(res.body.data).sort()).toEqual(["description", "name", "timestamp", "version"]);
  });

  it("GET and POST /echo", async () => {
    const get = await call("GET", "/echo", { headers: { "user-agent": "curl/7.68.0" } });
    expect(get.body).toMatchObject({ success: true, message: "Echo GET request received", data: { method: "GET", path: "/api/v1/echo", user_agent: "curl/7.68.0" } });
    const post = await call("POST", "/echo", { raw: '{"test": "data"}', headers: { "content-type": "application/json" } });
    expect(post.body).toMatchObject({ success: true, message: "Echo POST request received", data: { method: "POST", received_data: '{"test": "data"}' } });
    const text = await call("POST", "/echo", { raw: "plain words", headers: { "content-type": "text/plain" } });
    expect(text.body.data.received_data).toBe("plain words");
    expectError(await call("POST", "/echo", { raw: "x".repeat(70 * 1024), headers: { "content-type": "text/plain" } }), 413, "PAYLOAD_TOO_LARGE");
  });

  it("GET /protected needs a token", async () => {
    expectError(await call("GET", "/protected"), 401, "UNAUTHORIZED");
    const user = await signup();
    const res = await call("GET", "/protected", { token: user.token });
    expect(res.body).toMatchObject({ success: true, message: "This is a protected endpoint", data: { secret_info: "Secret information", access_level: "authenticated", user_id: user.id } });
  });

  it("GET /configs shows only client-visible settings", async () => {
    const res = await call("GET", "/configs");
    expect(res.status).toBe(200);
    expect(res.body.data.configs).toHaveProperty("login_captcha");
    expect(res.body.data.configs).not.toHaveProperty("sensitive_words");
  });

  it("serves the OpenAPI document and the docs page", async () => {
    const doc = await call("GET", "/api/v1/openapi.json");
    expect(doc.status).toBe(200);
    expect(doc.body.openapi).toBe("3.1.0");
    for (const path of ["/auth/register", "/auth/login", "/auth/refresh", "/users/me", "/users/{user_id}", "/health", "/echo"]) {
      expect(doc.body.paths).toHaveProperty(path);
    }
    expect(doc.body.components.securitySchemes.bearerAuth.scheme).toBe("bearer");
    const docs = await call("GET", "/docs");
    expect(docs.status).toBe(200);
    expect(String(docs.body)).toContain("/api/v1/openapi.json");
  });

  it("documents issue 19's contract: public GET /rooms, group icon, discover logo, the upload proof", async () => {
    const doc = (await call("GET", "/api/v1/openapi.json")).body;
    // a schema's property names, following allOf and $ref (extended schemas are emitted that way)
    const props = (schema: { $ref?: string; properties?: object; allOf?: object[] }): string[] => {
      if (schema.$ref) return props(doc.components.schemas[schema.$ref.split("/").pop()!]);
      return [...Object.keys(schema.properties ?? {}), ...(schema.allOf ?? []).flatMap((s) => props(s as never))];
    };
    const fields = (name: string) => props(doc.components.schemas[name]);
    expect(doc.paths["/rooms"].get.security).toEqual([{}, { bearerAuth: [] }]);
    expect(fields("RoomListItem")).toContain("joined");
    for (const name of ["Group", "GroupCreate", "WorkspaceGroup"]) expect(fields(name)).toContain("icon");
    expect(fields("WorkspaceGroup")).toEqual(expect.arrayContaining(["state", "joined"]));
    expect(fields("DiscoverLink")).toEqual(expect.arrayContaining(["logo", "icon"]));
    const proof = doc.paths["/uploads/{id}/proof"].post;
    expect(proof.requestBody.content["application/json"].schema.$ref).toBe("#/components/schemas/UploadProof");
    expect(fields("UploadProof")).toEqual(["sha256s"]);
    expect(proof.responses).toHaveProperty("409");
    expect(fields("Upload")).toContain("proof");
  });

  it("/docs works with no internet: every script it loads is served by this Worker's assets", async () => {
    const res = await SELF.fetch(`${BASE}/docs`);
    expect(res.status).toBe(200);
    const html = await res.text();
    const srcs = [...html.matchAll(/<script[^>]*\ssrc="([^"]+)"/g)].map((m) => m[1]);
    expect(srcs).toEqual(["/vendor/scalar-api-reference.js"]);
    expect(html).not.toMatch(/https?:\/\//); // no CDN, no font host
    expect(html).not.toMatch(/import\s.*from\s/); // no module import of a remote build
    for (const src of srcs) {
      // the asset router sits in front of the Worker (SELF reaches the Worker itself), so ask the binding
      const script = await testEnv.ASSETS.fetch(`${BASE}${src}`);
      expect(script.status).toBe(200);
      expect(script.headers.get("content-type")).toMatch(/javascript/);
      expect(await script.text()).toContain("createApiReference");
    }
  });

  it("serves the web chat client at / from the static assets, with its script and styles", async () => {
    const page = await testEnv.ASSETS.fetch(`${BASE}/`);
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html).toContain('<div id="app">');
    expect(html).not.toMatch(/https?:\/\/(?!www\.w3\.org)/); // nothing from the network
    for (const [path, type] of [["/app.js", /javascript/], ["/app.css", /css/]] as const) {
      expect(html).toContain(path);
      const file = await testEnv.ASSETS.fetch(`${BASE}${path}`);
      expect(file.status).toBe(200);
      expect(file.headers.get("content-type")).toMatch(type);
    }
  });

  it("the Worker answers its own paths before the static assets", async () => {
    // not a file: the Worker's JSON 404 envelope, not an asset 404
    const api = await SELF.fetch(`${BASE}/api/v1/nope`);
    expect(api.status).toBe(404);
    expect(((await api.json()) as { code: string }).code).toBe("NOT_FOUND");
    const sio = await SELF.fetch(`${BASE}/socket.io/?EIO=3&transport=polling`);
    expect(sio.status).toBe(400);
  });

  it("unknown routes get the error envelope, CORS preflight is answered", async () => {
    expectError(await call("GET", "/nope"), 404, "NOT_FOUND");
    const pre = await call("OPTIONS", "/auth/login", {
      headers: { origin: "https://app.example", "access-control-request-method": "POST", "access-control-request-headers": "Content-Type, Authorization" },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
    expect(pre.headers.get("access-control-allow-methods")).toContain("DELETE");
  });

  it("keeps the dev outbox reachable only outside production", async () => {
    const res = await call("GET", "/dev/outbox?to=nobody@example.com");
    expect(res.status).toBe(200);
    expect(res.body.data.messages).toEqual([]);
  });
});
