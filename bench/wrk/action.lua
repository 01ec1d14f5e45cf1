-- bench/wrk/action.lua: update_crop_keyframe actions through nginx, each with a correct
-- expected_version, for bench/run.
--
-- Random clips (no BENCH_HOT): run wrk with as many threads as pgbench gets (-t nproc,
-- any -c). Thread i edits only the clips with id % threads == i, uniformly at random,
-- so it is the only writer of its clips and its versions stay exact; a clip with a
-- request in flight is not picked again until its answer is in. A thread drives
-- several connections, and wrk does not say which request an answer belongs to, so
-- every edit writes an x that names its clip in its fraction: a random 0..1280, then
-- ".", the id in 9 digits and a closing 1 (x 640.0000123451 for clip 12345), within the
-- catalog's bounds on x; the loaded documents hold whole x only. The answer's
-- document holds it (a 409's links name the clip).
--
-- One hot clip (BENCH_HOT): run wrk with as many threads as connections (-t N -c N): a
-- thread then drives exactly one connection with one request in flight, so it knows
-- the request in hand, and its version is that connection's view.
--
-- Environment:
--   BENCH_TOKEN     bearer token
--   BENCH_VERSIONS  file of "id version" lines: every clip and its current version
--   BENCH_THREADS   wrk's thread count
--   BENCH_HOT       a clip id: every connection edits that clip, and a 409 is retried
--                   with the current_version it names (the next request of the
--                   connection is the retry). Unset: random clips, as above.
--   BENCH_MERGE     1 (with BENCH_HOT): send "on_conflict":"merge", and let connection i
--                   edit its own keyframe member (frame 30 * (i % 20), member x, y, width
--                   or height by i / 20), so that every edit is disjoint from the others
--                   and a stale one merges instead of answering 409 (docs/merge.md)
--   BENCH_PREFIX    mount point (default /api)
--   BENCH_IN_ORDER  1 (random clips only): each thread edits its clips in the order
--                   of BENCH_VERSIONS, once each (repeating the last one while answers
--                   are out), and stops when it has as many answers as clips
--                   (bench/run's pass before a measured row)
--
-- done() (bench/wrk/result.lua) prints one line: BENCHRESULT requests=... duration_us=... p50_us=... ok=...

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "result.lua")
local next_index = 0
-- an x naming clip id: "%d.%09d1" (a closing 1, so no trailing zero can be dropped)
local CLIP_X = "%d.%09d1"
local CLIP_X_PATTERN = '"x":%s*%d+%.(%d%d%d%d%d%d%d%d%d)1'

function setup(thread)
    thread:set("tindex", next_index)
    next_index = next_index + 1
    table.insert(bench_threads, thread)
end

function init(args)
    local nthreads = tonumber(os.getenv("BENCH_THREADS") or "1")
    hot = tonumber(os.getenv("BENCH_HOT") or "")
    prefix = os.getenv("BENCH_PREFIX") or "/api"
    versions = {}
    ids = {}
    for line in io.lines(os.getenv("BENCH_VERSIONS")) do
        local id, v = line:match("^(%d+)%s+(%d+)")
        if id ~= nil then
            id = tonumber(id)
            if (hot ~= nil and id == hot) or (hot == nil and id % nthreads == tindex) then
                versions[id] = tonumber(v)
                ids[#ids + 1] = id
            end
        end
    end
    if #ids == 0 then
        error("bench/wrk/action.lua: no clip for thread " .. tindex)
    end
    math.randomseed(os.time() + 7919 * tindex)
    headers = {
        ["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN"),
        ["Content-Type"] = "application/json",
    }
    busy = {}
    in_order = os.getenv("BENCH_IN_ORDER") == "1"
    sent, answered = 0, 0
    merge = os.getenv("BENCH_MERGE") == "1"
    if merge then
        local members = {"x", "y", "width", "height"}
        my_frame = 30 * (tindex % 20)
        my_member = members[math.floor(tindex / 20) % 4 + 1]
    end
    ok, conflict, other, other_status, merged = 0, 0, 0, 0, 0
end

-- the clip an answer is about, on random clips
local function clip_of(status, body)
    if status == 200 then
        local id = body:match(CLIP_X_PATTERN)
        if id ~= nil then
            return tonumber(id)
        end
    end
    local id = body:match("/clips/(%d+)/")
    return id and tonumber(id)
end

function request()
    if hot == nil then
        if in_order then
            -- past the last clip the thread repeats it until its answers are in
            sent = math.min(sent + 1, #ids)
            cur = ids[sent]
        else
            -- a clip without a request in flight (eight tries; a thread has thousands)
            for _ = 1, 8 do
                cur = ids[math.random(#ids)]
                if not busy[cur] then
                    break
                end
            end
        end
        busy[cur] = true
        local body = string.format(
            '{"action":"update_crop_keyframe","target":{"frame":%d},"data":{"x":%s},' ..
            '"expected_version":%d}',
            30 * math.random(0, 19), string.format(CLIP_X, math.random(0, 1280), cur),
            versions[cur])
        return wrk.format("POST", prefix .. "/clips/" .. cur .. "/actions", headers, body)
    end
    cur = hot
    if merge then
        local body = string.format(
            '{"action":"update_crop_keyframe","target":{"frame":%d},"data":{"%s":%d},' ..
            '"expected_version":%d,"on_conflict":"merge"}',
            my_frame, my_member, math.random(1, 1280), versions[cur])
        return wrk.format("POST", prefix .. "/clips/" .. cur .. "/actions", headers, body)
    end
    local body = string.format(
        '{"action":"update_crop_keyframe","target":{"frame":%d},"data":{"x":%d},' ..
        '"expected_version":%d}',
        30 * math.random(0, 19), math.random(0, 1280), versions[cur])
    return wrk.format("POST", prefix .. "/clips/" .. cur .. "/actions", headers, body)
end

function response(status, hdrs, body)
    if hot == nil then
        cur = clip_of(status, body)
        if cur == nil or versions[cur] == nil then
            bench_other(status)
            return
        end
        busy[cur] = nil
        answered = answered + 1
        if in_order and answered >= #ids then
            wrk.thread:stop()
        end
    end
    if status == 200 then
        ok = ok + 1
        if merge and body:find('"merged_over"', 1, true) then
            merged = merged + 1
        end
        local etag = hdrs["ETag"] or hdrs["Etag"] or hdrs["etag"]
        if etag ~= nil then
            versions[cur] = tonumber(etag:match("%d+"))
        end
    elseif status == 409 then
        conflict = conflict + 1
        local cv = body:match('"current_version":%s*(%d+)')
        if cv ~= nil then
            versions[cur] = tonumber(cv)
        end
    else
        bench_other(status)
    end
end
