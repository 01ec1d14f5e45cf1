-- bench/wrk/result.lua: the one line every wrk script of bench/run prints at the end,
-- summing the counters each thread kept (ok, conflict, other, merged, other_status;
-- a script that keeps fewer reports 0 for the rest). Loaded with dofile by
-- action.lua and get.lua.

function bench_result(threads, summary, latency)
    local n = {ok = 0, conflict = 0, other = 0, merged = 0}
    local status = 0
    for _, t in ipairs(threads) do
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
