-- bench/wrk/result.lua: what every wrk script of bench/run shares, loaded with dofile
-- by action.lua and get.lua: the list of wrk threads (setup() adds each one to
-- bench_threads), counting an unexpected answer, and done(), which sums the counters
-- each thread kept (ok, conflict, other, merged, other_status; a script that keeps
-- fewer reports 0 for the rest) into the one BENCHRESULT line bench/run reads.

bench_threads = {}

-- an answer the script did not expect: counted, and its status kept for the report
function bench_other(status)
    other = other + 1
    other_status = status
end

function done(summary, latency, requests)
    local n = {ok = 0, conflict = 0, other = 0, merged = 0}
    local status = 0
    for _, t in ipairs(bench_threads) do
        for k in pairs(n) do
            n[k] = n[k] + (t:get(k) or 0)
        end
        local st = t:get("other_status") or 0
        if st ~= 0 then
            status = st
        end
    end
    local e = summary.errors
    io.write(string.format(
        "BENCHRESULT requests=%d duration_us=%d p50_us=%d p99_us=%d ok=%d conflict=%d " ..
        "other=%d last_other_status=%d merged=%d connect_err=%d read_err=%d write_err=%d " ..
        "timeouts=%d\n",
        summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
        n.ok, n.conflict, n.other, status, n.merged, e.connect, e.read, e.write, e.timeout))
end
