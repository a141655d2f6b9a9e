-- wrk script: unary gRPC-Web calls over HTTP/1.1 keep-alive connections.
--
--   wrk ... -s grpcweb_unary.lua URL -- binary|text [close|keep-alive [TOKEN]]
--
-- Sends a 16-byte gRPC message (a bench.Blob) in one gRPC-Web frame, either as-is
-- (application/grpc-web+proto) or base64-encoded (application/grpc-web-text), and checks every
-- response: HTTP 200 and grpc-status 0, found in the 0x80 trailer frame of the (decoded) body or,
-- for a trailers-only reply, in the HTTP headers. At the end it prints one line
-- "BENCHJSON {...}" with counts and latency percentiles (microseconds) for the harness.
-- With "close", every request carries `Connection: close`: one call per connection (with an
-- https URL, one full TLS handshake per call). With TOKEN, every request carries
-- `Authorization: Bearer TOKEN` (the JWT rows).

local mode = "binary"

-- Per-thread counters (each wrk thread has its own Lua state; done() collects them).
ok_calls = 0
grpc_errors = 0
http_errors = 0

-- bench.Blob{data = 14 bytes}: tag 0x0a, length 14, payload -> 16 bytes on the wire.
local message = "\10\14" .. "0123456789abcd"
local frame = "\0\0\0\0" .. string.char(#message) .. message

local b64chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"

local function base64_encode(s)
  local out = {}
  for i = 1, #s, 3 do
    local a, b, c = s:byte(i, i + 2)
    local n = a * 65536 + (b or 0) * 256 + (c or 0)
    local c1 = math.floor(n / 262144) % 64
    local c2 = math.floor(n / 4096) % 64
    local c3 = math.floor(n / 64) % 64
    local c4 = n % 64
    out[#out + 1] = b64chars:sub(c1 + 1, c1 + 1) .. b64chars:sub(c2 + 1, c2 + 1) ..
      (b and b64chars:sub(c3 + 1, c3 + 1) or "=") .. (c and b64chars:sub(c4 + 1, c4 + 1) or "=")
  end
  return table.concat(out)
end

local b64values = {}
for i = 1, 64 do b64values[b64chars:byte(i)] = i - 1 end

-- Decodes each 4-character group on its own, so concatenated padded segments (one per
-- gRPC-Web frame, as proxies may emit) decode correctly.
local function base64_decode(s)
  local out = {}
  for i = 1, #s - 3, 4 do
    local a, b, c, d = s:byte(i, i + 3)
    local va, vb = b64values[a], b64values[b]
    if va == nil or vb == nil then return nil end
    local vc, vd = b64values[c], b64values[d]
    local n = va * 262144 + vb * 4096 + (vc or 0) * 64 + (vd or 0)
    local b1, b2, b3 = math.floor(n / 65536), math.floor(n / 256) % 256, n % 256
    if vc == nil then
      out[#out + 1] = string.char(b1)
    elseif vd == nil then
      out[#out + 1] = string.char(b1, b2)
    else
      out[#out + 1] = string.char(b1, b2, b3)
    end
  end
  return table.concat(out)
end

function init(args)
  mode = args[1] or "binary"
  wrk.method = "POST"
  if args[2] == "close" then wrk.headers["Connection"] = "close" end
  if args[3] then wrk.headers["Authorization"] = "Bearer " .. args[3] end
  wrk.headers["X-Grpc-Web"] = "1"
  wrk.headers["Origin"] = "http://bench.example"
  if mode == "text" then
    wrk.headers["Content-Type"] = "application/grpc-web-text"
    wrk.headers["Accept"] = "application/grpc-web-text"
    wrk.body = base64_encode(frame)
  else
    wrk.headers["Content-Type"] = "application/grpc-web+proto"
    wrk.headers["Accept"] = "application/grpc-web+proto"
    wrk.body = frame
  end
end

-- grpc-status from a header block ("name:value\r\n" lines), or nil.
local function status_in(block)
  if block == nil then return nil end
  local s = block:match("[Gg][Rr][Pp][Cc]%-[Ss][Tt][Aa][Tt][Uu][Ss]:%s*(%d+)")
  return s and tonumber(s) or nil
end

function response(status, headers, body)
  if status ~= 200 then
    http_errors = http_errors + 1
    return
  end
  local decoded = body
  if mode == "text" then decoded = base64_decode(body) end
  local grpc_status = nil
  if decoded ~= nil then
    -- The trailer frame is the last one: flag byte 0x80, 4-byte length, header block.
    local at = decoded:find("\128", 1, true)
    while at ~= nil do
      local n1, n2, n3, n4 = decoded:byte(at + 1, at + 4)
      if n4 ~= nil then
        local len = ((n1 * 256 + n2) * 256 + n3) * 256 + n4
        if at + 4 + len == #decoded then
          grpc_status = status_in(decoded:sub(at + 5))
          break
        end
      end
      at = decoded:find("\128", at + 1, true)
    end
  end
  if grpc_status == nil then
    for k, v in pairs(headers) do
      if k:lower() == "grpc-status" then grpc_status = tonumber(v) end
    end
  end
  if grpc_status == 0 then
    ok_calls = ok_calls + 1
  else
    grpc_errors = grpc_errors + 1
  end
end

local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
end

function done(summary, latency, requests)
  local ok, grpc_err, http_err = 0, 0, 0
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok_calls")
    grpc_err = grpc_err + t:get("grpc_errors")
    http_err = http_err + t:get("http_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCHJSON {"requests": %d, "duration_us": %d, "ok": %d, "grpc_errors": %d, "http_errors": %d, ' ..
    '"socket_errors": %d, "p50_us": %d, "p99_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, ok, grpc_err, http_err,
    e.connect + e.read + e.write + e.timeout,
    latency:percentile(50.0), latency:percentile(99.0), latency.mean))
end
