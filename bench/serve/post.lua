-- wrk script: POST one JSON request, the file named by $BENCH_BODY, on every call. The path
-- comes from the URL given to wrk.
local f = assert(io.open(assert(os.getenv("BENCH_BODY"), "BENCH_BODY is not set"), "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
