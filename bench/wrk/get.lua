-- bench/wrk/get.lua: reads through nginx for bench/run.
--
-- Environment:
--   BENCH_TOKEN       bearer token (sent to the minimal responder too, which ignores it)
--   BENCH_VERSIONS    file of "id version" lines; each request reads a clip at random
--   BENCH_PREFIX      mount point: /api for actiond, /bench-minimal for the minimal
--                     FastCGI responder
--   BENCH_REVALIDATE  1: send If-None-Match with the clip's current ETag, so every
--                     answer is a 304
--   BENCH_ETAG        with BENCH_REVALIDATE: send this ETag instead (the minimal
--                     responder's constant "1")
--   BENCH_PATH        a fixed path under the prefix instead of random clips (the log
--                     paging measurements)
--
-- done() (bench/wrk/result.lua) prints one line: BENCHRESULT requests=... ok=... (200 or 304 as expected)

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "result.lua")

function setup(thread)
    table.insert(bench_threads, thread)
end

function init(args)
    prefix = os.getenv("BENCH_PREFIX") or "/api"
    fixed = os.getenv("BENCH_PATH")
    revalidate = os.getenv("BENCH_REVALIDATE") == "1"
    etag = os.getenv("BENCH_ETAG")
    expect = revalidate and 304 or 200
    ids, versions = {}, {}
    if fixed == nil then
        for line in io.lines(os.getenv("BENCH_VERSIONS")) do
            local id, v = line:match("^(%d+)%s+(%d+)")
            if id ~= nil then
                ids[#ids + 1] = id
                versions[#ids] = v
            end
        end
    end
    math.randomseed(os.time() + math.floor(os.clock() * 1000000))
    auth = "Bearer " .. os.getenv("BENCH_TOKEN")
    ok, other, other_status = 0, 0, 0
end

function request()
    local h = {["Authorization"] = auth}
    if fixed ~= nil then
        return wrk.format("GET", prefix .. fixed, h)
    end
    local i = math.random(#ids)
    if revalidate then
        h["If-None-Match"] = '"' .. (etag or versions[i]) .. '"'
    end
    return wrk.format("GET", prefix .. "/clips/" .. ids[i], h)
end

function response(status, hdrs, body)
    if status == expect then
        ok = ok + 1
    else
        bench_other(status)
    end
end
