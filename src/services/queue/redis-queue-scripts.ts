// The Redis queue's steps, each one Lua script so that instances can never
// interleave inside a step. All keys of a concert share the hash tag {concertId}
// (one Redis Cluster slot). Order is INCR per concert, never a clock reading.
// Time is Redis's own (TIME), so every instance agrees on it.
//
// Keys under p = "q:{<concertId>}:":
//   seq      INCR counter: the order of entry
//   waiting  ZSET token -> seq            (only WAITING tokens: rank = place - 1)
//   seen     ZSET token -> last seen ms   (WAITING tokens; abandonment)
//   active   ZSET token -> session end ms (ACTIVE tokens; with a hold, at least its end + grace)
//   users    HASH userId -> token         (one live token per user)
//   admlog   ZSET token -> admitted ms    (admissions in the last second: the rate limit)
//   meta     HASH soldout, soldoutSeq, admitted (count), rate, rateAt, rateCount,
//            drawn (1: pqdraw is the head of the line), drawnFor (that draw's commitment), drawnAt,
//            waitlist (1: sold out, the line kept as a waiting list), credits (seats back on sale not yet offered)
//   pqdraw   ZSET "<draw key hex>:<token>" -> 0: the pre-queue (rules 16, 17). All
//            scores are 0, so the members sort by draw key: the set is kept in
//            draw order from the first entry on, and the draw at the opening
//            only makes that order count (meta drawn = 1). From then on it is
//            the head of the line: its tokens are admitted before any in
//            waiting (the later entries), and a place there is its rank + 1.
//   adm60    HASH second % 60 -> "<second>:<admissions>" (admissions per second, last minute)
//   policy   HASH m maxActive, r perSecond, s sessionMs, o admission open (1/0): the policy an admin
//            last set (setPolicy). It overrides the caller's arguments, which come from that
//            instance's cached copy and may be a moment old on another instance.
//   t:<tok>  HASH u user, s status, q seq, a admitted ms, se session end, hu hold end, r reason,
//            k draw key (pre-queue entries)

const COMMON = `
local p = KEYS[1]
local concert = string.sub(KEYS[2], 2, -2) -- KEYS[2] is "{<concertId>}": one slot with p
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local TOKEN_TTL = 172800

local function soldoutSeq()
  return tonumber(redis.call('HGET', p .. 'meta', 'soldoutSeq') or '0')
end

local function rate()
  local m = redis.call('HMGET', p .. 'meta', 'rate', 'waitlist', 'credits')
  -- a waiting list with no seat back on sale has no estimate (rule 23)
  if m[2] == '1' and tonumber(m[3] or '0') <= 0 then return '' end
  if m[1] then return m[1] end
  return ''
end

-- status, reason of a token hash, a token older than a sell-out counting as SOLD_OUT
local function statusOf(h)
  local s, q, r = h[2], tonumber(h[3]), h[4]
  if s ~= 'EXPIRED' and q <= soldoutSeq() then return 'EXPIRED', 'SOLD_OUT' end
  return s, (r or '')
end

local function drawn()
  return redis.call('HGET', p .. 'meta', 'drawn') == '1'
end

-- the place of a WAITING token: in pqdraw, 0 before the draw and its rank + 1
-- after; in waiting, behind every token of pqdraw. False: in neither.
local function placeOf(token, key, isDrawn, preCount)
  if key then
    local pr = redis.call('ZRANK', p .. 'pqdraw', key .. ':' .. token)
    if pr then
      if isDrawn then return pr + 1 end
      return 0
    end
  end
  local rank = redis.call('ZRANK', p .. 'waiting', token)
  if not rank then return false end
  return preCount + rank + 1
end

local function state(token, idleMs)
  local h = redis.call('HMGET', p .. 't:' .. token, 'u', 's', 'q', 'r', 'k')
  if not h[1] then return false end
  local s, r = statusOf(h)
  if s == 'WAITING' then
    local place = placeOf(token, h[5], drawn(), redis.call('ZCARD', p .. 'pqdraw'))
    local seen = redis.call('ZSCORE', p .. 'seen', token)
    if not place or not seen then return false end
    return {token, h[1], s, place, tonumber(seen) + idleMs, '', now, rate()}
  elseif s == 'ACTIVE' then
    -- the session's end: its own, or its hold's when that is later
    local e = redis.call('HMGET', p .. 't:' .. token, 'se', 'hu')
    return {token, h[1], s, 0, math.max(tonumber(e[1] or '0'), tonumber(e[2] or '0')), '', now, rate()}
  end
  return {token, h[1], 'EXPIRED', 0, 0, r, now, rate()}
end

local function expireOne(token, reason)
  local key = p .. 't:' .. token
  local h = redis.call('HMGET', key, 'u', 's', 'q', 'r', 'k')
  if not h[1] then return false end
  local s = statusOf(h)
  if s == 'EXPIRED' then return false end
  if h[5] then redis.call('ZREM', p .. 'pqdraw', h[5] .. ':' .. token) end
  redis.call('ZREM', p .. 'waiting', token)
  redis.call('ZREM', p .. 'seen', token)
  redis.call('ZREM', p .. 'active', token)
  redis.call('HSET', key, 's', 'EXPIRED', 'r', reason)
  redis.call('EXPIRE', key, TOKEN_TTL)
  if redis.call('HGET', p .. 'users', h[1]) == token then redis.call('HDEL', p .. 'users', h[1]) end
  return true
end

-- what an entry or a step was told of the opening and the pause (rules 16, 25)
local gate = { opensAt = '', open = true }

-- nobody is admitted while paused, before the opening, or while the pre-queue waits for its draw
local function gated()
  if not gate.open then return true end
  if gate.opensAt ~= '' and now < tonumber(gate.opensAt) then return true end
  return redis.call('EXISTS', p .. 'pqdraw') == 1 and not drawn()
end

-- admissions per second over the last minute: 60 slots of "<second>:<count>"
local function countAdmissions(n)
  local sec = math.floor(now / 1000)
  local slot = tostring(sec % 60)
  local cur = redis.call('HGET', p .. 'adm60', slot)
  local count = n
  if cur then
    local at, c = string.match(cur, '^(%d+):(%d+)$')
    if tonumber(at) == sec then count = tonumber(c) + n end
  end
  redis.call('HSET', p .. 'adm60', slot, sec .. ':' .. count)
end

-- admits from the head of the line while there is room and the last second's
-- admissions stay under the rate
local function admit(maxActive, perSecond, sessionMs, idleMs)
  local set = redis.call('HMGET', p .. 'policy', 'm', 'r', 's', 'o')
  if set[1] then maxActive, perSecond, sessionMs, gate.open = tonumber(set[1]), tonumber(set[2]), tonumber(set[3]), set[4] == '1' end
  if gated() then return {} end
  local credits = false
  if redis.call('HGET', p .. 'meta', 'soldout') == '1' then
    -- sold out: a waiting list admits one user per seat back on sale (rule 23)
    local m = redis.call('HMGET', p .. 'meta', 'waitlist', 'credits')
    if m[1] ~= '1' then return {} end
    credits = tonumber(m[2] or '0')
    if credits <= 0 then return {} end
  end
  redis.call('ZREMRANGEBYSCORE', p .. 'admlog', '-inf', now - 1000)
  local room = math.min(maxActive - redis.call('ZCARD', p .. 'active'), perSecond - redis.call('ZCARD', p .. 'admlog'))
  if credits then room = math.min(room, credits) end
  if room <= 0 then return {} end
  -- the drawn pre-queue first (its members are "<key>:<token>"), then the later entries
  local popped = {}
  for i, member in ipairs(redis.call('ZPOPMIN', p .. 'pqdraw', room)) do
    if i % 2 == 1 then popped[#popped + 1] = string.sub(member, 66) end
  end
  if #popped < room then
    for i, member in ipairs(redis.call('ZPOPMIN', p .. 'waiting', room - #popped)) do
      if i % 2 == 1 then popped[#popped + 1] = member end
    end
  end
  local out = {}
  for _, token in ipairs(popped) do
    local ends = now + sessionMs
    redis.call('HSET', p .. 't:' .. token, 's', 'ACTIVE', 'se', ends, 'a', now)
    redis.call('ZADD', p .. 'active', ends, token)
    redis.call('ZREM', p .. 'seen', token)
    redis.call('ZADD', p .. 'admlog', now, token)
    out[#out + 1] = state(token, idleMs)
  end
  if #out > 0 then
    redis.call('HINCRBY', p .. 'meta', 'admitted', #out)
    countAdmissions(#out)
  end
  if credits and #out > 0 then redis.call('HINCRBY', p .. 'meta', 'credits', -#out) end
  return out
end
`;

/**
 * KEYS: p, concert. ARGV: userId, newToken, maxActive, perSecond, sessionMs, idleMs,
 * opensAt ms or '', draw key or '', admission open (1/0). Before the opening a new
 * token joins the pre-queue (its draw key in pqdraw). The token's seq is the fifth reply.
 */
export const ENTER = `${COMMON}
local userId, newToken = ARGV[1], ARGV[2]
local maxActive, perSecond, sessionMs, idleMs = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local drawKey = ARGV[8] or ''
gate.opensAt, gate.open = ARGV[7] or '', (ARGV[9] or '1') == '1'
local existing = redis.call('HGET', p .. 'users', userId)
if existing then
  redis.call('ZADD', p .. 'seen', 'XX', now, existing)
  local st = state(existing, idleMs)
  if st and st[3] ~= 'EXPIRED' then
    local e = redis.call('HMGET', p .. 't:' .. existing, 'q', 'k')
    return {'OK', 0, st, {}, tonumber(e[1]), e[2] and 1 or 0}
  end
end
local so = redis.call('HMGET', p .. 'meta', 'soldout', 'waitlist')
if so[1] == '1' and so[2] ~= '1' then return {'SOLD_OUT'} end
local seq = redis.call('INCR', p .. 'seq')
local key = p .. 't:' .. newToken
redis.call('HSET', key, 'u', userId, 's', 'WAITING', 'q', seq)
redis.call('EXPIRE', key, TOKEN_TTL)
local pre = 0
if gate.opensAt ~= '' and drawKey ~= '' and now < tonumber(gate.opensAt) then
  pre = 1
  -- the pre-queue; a new one only ever starts with nobody in line (rule 16)
  redis.call('HSET', key, 'k', drawKey)
  redis.call('ZADD', p .. 'pqdraw', 0, drawKey .. ':' .. newToken)
  redis.call('HDEL', p .. 'meta', 'drawn')
else
  redis.call('ZADD', p .. 'waiting', seq, newToken)
end
redis.call('ZADD', p .. 'seen', now, newToken)
redis.call('HSET', p .. 'users', userId, newToken)
local admitted = admit(maxActive, perSecond, sessionMs, idleMs)
return {'OK', 1, state(newToken, idleMs), admitted, seq, pre}
`;

/**
 * KEYS: p, concert. ARGV: idleMs, touch (1/0), token...
 * The subscribers' refresh reads hundreds of tokens per call, so this is
 * state() with what is the same for every token (the sell-out watermark, the
 * admission rate) read once, and a touched token's deadline known without
 * reading it back: 3 calls a WAITING token instead of 7 (a read of 500 tokens took
 * 12–15 ms of Redis, and everything else waits behind a script).
 */
export const READ = `${COMMON}
local idleMs, touch = tonumber(ARGV[1]), ARGV[2] == '1'
local so, rt = soldoutSeq(), rate()
local isDrawn, preCount = drawn(), redis.call('ZCARD', p .. 'pqdraw')
local waiting, seen = p .. 'waiting', p .. 'seen'
local out = {}
for i = 3, #ARGV do
  local token = ARGV[i]
  local st = false
  local h = redis.call('HMGET', p .. 't:' .. token, 'u', 's', 'q', 'r', 'k')
  if h[1] then
    local s, r = h[2], h[4] or ''
    if s ~= 'EXPIRED' and tonumber(h[3]) <= so then s, r = 'EXPIRED', 'SOLD_OUT' end
    if s == 'WAITING' then
      -- waiting and seen hold the same tokens (every script adds and removes both)
      local place = placeOf(token, h[5], isDrawn, preCount)
      local deadline = false
      if touch then
        redis.call('ZADD', seen, 'XX', now, token)
        deadline = now + idleMs
      else
        local last = redis.call('ZSCORE', seen, token)
        if last then deadline = tonumber(last) + idleMs end
      end
      if place and deadline then st = {token, h[1], s, place, deadline, '', now, rt} end
    elseif s == 'ACTIVE' then
      if touch then redis.call('ZADD', seen, 'XX', now, token) end
      local e = redis.call('HMGET', p .. 't:' .. token, 'se', 'hu')
      st = {token, h[1], s, 0, math.max(tonumber(e[1] or '0'), tonumber(e[2] or '0')), '', now, rt}
    else
      if touch then redis.call('ZADD', seen, 'XX', now, token) end
      st = {token, h[1], 'EXPIRED', 0, 0, r, now, rt}
    end
  end
  out[#out + 1] = st
end
return out
`;

/** KEYS: p, concert. ARGV: token, reason, idleMs */
export const EXPIRE = `${COMMON}
local changed = expireOne(ARGV[1], ARGV[2])
return {changed and 1 or 0, state(ARGV[1], tonumber(ARGV[3]))}
`;

/** KEYS: p, concert. ARGV: token, hold end ms or '' (released), grace ms */
export const SET_HOLD = `${COMMON}
local key = p .. 't:' .. ARGV[1]
local h = redis.call('HMGET', key, 'u', 's', 'q', 'r', 'se')
if not h[1] or statusOf(h) ~= 'ACTIVE' then return 0 end
local ends = tonumber(h[5])
if ARGV[2] == '' then
  redis.call('HDEL', key, 'hu')
else
  redis.call('HSET', key, 'hu', ARGV[2])
  -- the hold's own end (HOLD_TIMEOUT) comes from the hold sweeper; the grace
  -- keeps the session timeout from taking it first
  ends = math.max(ends, tonumber(ARGV[2]) + tonumber(ARGV[3]))
end
redis.call('ZADD', p .. 'active', 'XX', ends, ARGV[1])
return 1
`;

/** KEYS: p, concert. ARGV: maxActive, perSecond, sessionMs, idleMs, batch, opensAt ms or '', admission open (1/0) */
export const TICK = `${COMMON}
local maxActive, perSecond, sessionMs, idleMs, batch = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
gate.opensAt, gate.open = ARGV[6] or '', (ARGV[7] or '1') == '1'
local expired = {}
for _, token in ipairs(redis.call('ZRANGEBYSCORE', p .. 'active', '-inf', now, 'LIMIT', 0, batch)) do
  if expireOne(token, 'SESSION_TIMEOUT') then expired[#expired + 1] = state(token, idleMs) end
end
for _, token in ipairs(redis.call('ZRANGEBYSCORE', p .. 'seen', '-inf', now - idleMs, 'LIMIT', 0, batch)) do
  if expireOne(token, 'ABANDONED') then expired[#expired + 1] = state(token, idleMs) end
end
local admitted = admit(maxActive, perSecond, sessionMs, idleMs)
-- the admission rate observed (2-second samples, averaged over about ten
-- seconds), for the estimates; short samples overstate it, counting the
-- admissions at both ends of a one-second window
local m = redis.call('HMGET', p .. 'meta', 'admitted', 'rateAt', 'rateCount', 'rate')
local total = tonumber(m[1] or '0')
local at = tonumber(m[2] or '0')
if at == 0 then
  redis.call('HSET', p .. 'meta', 'rateAt', now, 'rateCount', total)
elseif now - at >= 2000 then
  local dt = (now - at) / 1000
  local instant = (total - tonumber(m[3] or '0')) / dt
  local alpha = 1 - math.exp(-dt / 10)
  local r = tonumber(m[4] or '')
  if r then r = r + alpha * (instant - r) elseif instant > 0 then r = instant end
  if r then redis.call('HSET', p .. 'meta', 'rate', tostring(r)) end
  redis.call('HSET', p .. 'meta', 'rateAt', now, 'rateCount', total)
end
return {admitted, expired, redis.call('ZCARD', p .. 'waiting') + redis.call('ZCARD', p .. 'pqdraw'), redis.call('ZCARD', p .. 'active')}
`;

/** KEYS: p, concert. Every live token ends SOLD_OUT at once: tokens up to the current seq count as sold out. */
export const SOLD_OUT = `${COMMON}
local seq = redis.call('GET', p .. 'seq') or '0'
redis.call('HSET', p .. 'meta', 'soldout', '1', 'soldoutSeq', seq)
-- UNLINK frees the sets in the background: no loop over the tokens here
redis.call('UNLINK', p .. 'waiting', p .. 'seen', p .. 'active', p .. 'users', p .. 'admlog', p .. 'pqdraw')
return 1
`;

/** KEYS: the registry. ARGV: concert, oldest registration kept (ms). */
export const FORGET = `
local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if score and tonumber(score) < tonumber(ARGV[2]) then return redis.call('ZREM', KEYS[1], ARGV[1]) end
return 0
`;

/**
 * KEYS: p, concert. ARGV: commitment, opensAt ms or ''. The opening draw (rule
 * 17): pqdraw is already in draw-key order (see the keys above), so the draw is
 * one flag, whatever the pre-queue's size: from now on pqdraw is the head of
 * the line. Once per commitment. Returns {1, n} when done here, {0, 0} when
 * done before, {-1, 0} before the opening.
 */
export const DRAW = `${COMMON}
local commitment, opensAt = ARGV[1], ARGV[2]
if redis.call('HGET', p .. 'meta', 'drawnFor') == commitment then return {0, 0} end
if opensAt ~= '' and now < tonumber(opensAt) then return {-1, 0} end
redis.call('HSET', p .. 'meta', 'drawn', '1', 'drawnFor', commitment, 'drawnAt', now)
return {1, redis.call('ZCARD', p .. 'pqdraw')}
`;

/** KEYS: p, concert. The line's numbers: waiting, active, pre-queue, admissions in the last 60 s. */
export const STATS = `${COMMON}
local sec = math.floor(now / 1000)
local admitted = 0
local slots = redis.call('HVALS', p .. 'adm60')
for i = 1, #slots do
  local at, c = string.match(slots[i], '^(%d+):(%d+)$')
  if at and tonumber(at) > sec - 60 then admitted = admitted + tonumber(c) end
end
local pre = redis.call('ZCARD', p .. 'pqdraw')
local preQueue = pre
if drawn() then preQueue = 0 end
return {redis.call('ZCARD', p .. 'waiting') + pre, redis.call('ZCARD', p .. 'active'), preQueue, admitted}
`;

/** KEYS: p, concert. ARGV: maxActive, perSecond, sessionMs, admission open (1/0). The policy every step follows from now on. */
export const SET_POLICY = `
redis.call('HSET', KEYS[1] .. 'policy', 'm', ARGV[1], 'r', ARGV[2], 's', ARGV[3], 'o', ARGV[4])
return 1
`;

// The waiting list (rule 23): scripts of their own, so the steps above stay as they are.

/**
 * KEYS: p, concert. ARGV: idleMs. A sell-out of a concert that keeps its line:
 * ACTIVE tokens without a running hold end SOLD_OUT, WAITING ones stay, entries
 * still join; from now on the line moves one user per seat back on sale.
 * Returns the ended tokens' states.
 */
export const SELL_OUT_KEEPING_LINE = `${COMMON}
local idleMs = tonumber(ARGV[1])
redis.call('HSET', p .. 'meta', 'soldout', '1', 'waitlist', '1', 'credits', 0)
local ended = {}
for _, token in ipairs(redis.call('ZRANGE', p .. 'active', 0, -1)) do
  local hu = tonumber(redis.call('HGET', p .. 't:' .. token, 'hu') or '0')
  if hu <= now and expireOne(token, 'SOLD_OUT') then ended[#ended + 1] = state(token, idleMs) end
end
return ended
`;

/**
 * KEYS: p, concert. ARGV: seats, maxActive, perSecond, sessionMs, idleMs.
 * Seats came back on sale: on a waiting list, each admits the next in line
 * (now, or at a later tick when the policy has no room yet). Returns the admitted.
 */
export const SEATS_BACK = `${COMMON}
if redis.call('HGET', p .. 'meta', 'waitlist') ~= '1' then return {} end
redis.call('HINCRBY', p .. 'meta', 'credits', tonumber(ARGV[1]))
return admit(tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5]))
`;
