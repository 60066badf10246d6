// Package apisixtest plays APISIX's side of the ext-plugin protocol, so that
// tests can drive the real plugin runner ("faas plugin") over its Unix socket
// exactly as APISIX 3.x would, without APISIX.
//
// The emulator honours the facts of /work/shared/apisix/ext-plugin-protocol.md:
//   - frames: a 4-byte header (type, then a 3-byte big-endian length) and a
//     flatbuffer, header and payload sent in one write;
//   - PrepareConf with key route#<route_id>#ext-plugin-post-req#<conf_version>
//     and the route's conf list, tokens cached per key (one prepare at a
//     time), and a new conf version after SetRoutes;
//   - HTTPReqCall with id, conf token, src_ip (4 or 16 bytes), method enum,
//     path without query (nginx's normalized $uri), args (a name without "="
//     has no value), headers (lower-case names, repeated ones repeated);
//   - ExtraInfo answered for ReqBody (read lazily, under nginx's
//     client_max_body_size) and Var; any other info type is an error;
//   - answers: Stop (status 0 means 200, headers set one by one so a repeated
//     name keeps its last value, an empty body with a status >= 400 becomes
//     nginx's HTML page), Rewrite or nothing (then the upstream: our API
//     routes have none, so 503);
//   - a type-0 CONF_TOKEN_NOT_FOUND flushes the tokens, prepares again and
//     retries, three calls at most; any other error, a broken connection or a
//     timeout (1 s connect, 60 s send and read) gives the client 503;
//   - connections are pooled (32 idle, 180 s) and used for one call at a
//     time; a pooled connection the runner closed is dropped, not reused,
//     and a connection is closed after any error.
//
// Around the plugin it emulates what our routes use: route matching (radixtree
// order: full uri, then the longest prefix "/x*", then priority; methods),
// nginx's client_max_body_size as APISIX-Runtime applies it (delayed until
// the body is read: a Content-Length or chunked body over it ends the
// request with nginx's 413 when the runner asks for the body), nginx's error
// pages (its HTML page, or the answer an error_page of config.yaml's
// http_server_configuration_snippet gives: Config.ErrorPages), cors (OPTIONS
// answered 200 in the rewrite phase; CORS headers on every answer of the
// route but error_page ones) and limit-count (policy local, fixed window,
// quota headers, rejected_code with {"error_msg": rejected_msg}).
//
// Typical use, with the real binary, from a test in a package directory (so
// the repository's apisix/ folder is "../apisix"; TestMain calls
// CleanupBuilds after m.Run):
//
//	bin := apisixtest.GoBuild(t, "github.com/faasplatform/faas/cmd/faas")
//	cfg, err := apisixtest.LoadConfig("../apisix/config.yaml")
//	...
//	env := cfg.RunnerEnv(map[string]string{"LOG_LEVEL": "warn", "NATS_URL": natsURL, "JWT_SECRET": secret})
//	r := apisixtest.StartRunner(t, bin, []string{"plugin"}, env) // stopped when the test ends
//	routes, err := apisixtest.LoadRoutes("../apisix/apisix.yaml")
//	...
//	opts := cfg.EmulatorOptions() // config.yaml's body limit and error pages
//	opts.Logf = t.Logf
//	emu := apisixtest.NewWithOptions(r.SocketPath(), opts, routes...)
//	srv := httptest.NewServer(emu) // or emu.Do(req), emu.URL()
//	t.Cleanup(func() { srv.Close(); emu.Close() })
//	...
//	r.Restart() // a new process: its conf tokens are gone, the emulator prepares again
package apisixtest
