// The scripts that keep a concert's line in Redis whole (rule 27). Every key is
// under the concert's hash tag, like the line's own scripts (redis-queue-scripts.ts).
//
//   epoch       the line's marker: present while Redis holds the line. An emptied
//               Redis (a restart without persistence, a failover to a replica
//               that never had the line) has none, and every step of the line
//               refuses to run (GUARD) until the line is rebuilt from PostgreSQL:
//               nobody is admitted out of order, no token jumps the line.
//   rebuilding  the lock one instance holds while it rebuilds (its owner id).

/**
 * Put before each of the line's scripts (KEYS[1] = "q:{<concertId>}:"): without
 * the marker the step does nothing and fails with QLOST.
 */
export const GUARD = `
if redis.call('EXISTS', KEYS[1] .. 'epoch') == 0 then return redis.error_reply('QLOST the line is not in Redis') end
`;

/** KEYS: p, tag. ARGV: epoch. A line opened for the first time: only the marker. */
export const OPEN = `
if redis.call('EXISTS', KEYS[1] .. 'epoch') == 1 then return 0 end
redis.call('SET', KEYS[1] .. 'epoch', ARGV[1])
return 1
`;

/** KEYS: p, tag. ARGV: owner. Clears what is left of the line (a lagging replica's older copy). */
export const BEGIN = `
local p = KEYS[1]
if redis.call('EXISTS', p .. 'epoch') == 1 then return 0 end
if redis.call('GET', p .. 'rebuilding') ~= ARGV[1] then return -1 end
-- the policy too: a lagging copy may be older than the one the instances hold, which the steps then follow
redis.call('DEL', p .. 'waiting', p .. 'seen', p .. 'active', p .. 'users', p .. 'admlog', p .. 'meta', p .. 'seq', p .. 'pqdraw', p .. 'policy')
return 1
`;

/**
 * KEYS: p, tag. ARGV: owner, grace ms, then 8 per token: token, user, seq,
 * status, session end ms, hold end ms (0: none), reason, draw key ('' unless
 * it entered the pre-queue). A WAITING token counts as seen now (nobody could
 * be seen while the line was away). A WAITING token with a draw key goes back
 * into pqdraw, as ENTER put it there: in draw-key order, ahead of the later
 * entries once the draw is done (END sets drawn).
 */
export const LOAD = `
local p = KEYS[1]
if redis.call('EXISTS', p .. 'epoch') == 1 then return 0 end
if redis.call('GET', p .. 'rebuilding') ~= ARGV[1] then return -1 end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local grace = tonumber(ARGV[2])
local n = 0
for i = 3, #ARGV, 8 do
  local token, user, seq, status = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local se, hu, reason, k = tonumber(ARGV[i + 4]), tonumber(ARGV[i + 5]), ARGV[i + 6], ARGV[i + 7]
  local key = p .. 't:' .. token
  redis.call('DEL', key)
  if status == 'WAITING' then
    redis.call('HSET', key, 'u', user, 's', 'WAITING', 'q', seq)
    if k ~= '' then
      redis.call('HSET', key, 'k', k)
      redis.call('ZADD', p .. 'pqdraw', 0, k .. ':' .. token)
    else
      redis.call('ZADD', p .. 'waiting', seq, token)
    end
    redis.call('ZADD', p .. 'seen', now, token)
    redis.call('HSET', p .. 'users', user, token)
  elseif status == 'ACTIVE' then
    redis.call('HSET', key, 'u', user, 's', 'ACTIVE', 'q', seq, 'se', se, 'a', now)
    local ends = se
    if hu > 0 then
      redis.call('HSET', key, 'hu', hu)
      ends = math.max(se, hu + grace)
    end
    redis.call('ZADD', p .. 'active', ends, token)
    redis.call('HSET', p .. 'users', user, token)
  else
    redis.call('HSET', key, 'u', user, 's', 'EXPIRED', 'q', seq, 'r', reason)
  end
  redis.call('EXPIRE', key, 172800)
  n = n + 1
end
return n
`;

/**
 * KEYS: p, tag. ARGV: owner, last seq, sold out (1/0), epoch, drawn commitment
 * ('' : no draw done), drawn at ms, waiting list (1/0), seats on sale. The line
 * is back: the draw's and the waiting list's state, the marker, then the lock goes.
 *
 * A waiting list's credits (seats back on sale not yet offered) are recounted:
 * the seats on sale, less one for each ACTIVE token without a running hold (it
 * was admitted for one of them, or will pass its seat on when its session
 * ends), never below 0.
 */
export const END = `
local p = KEYS[1]
if redis.call('EXISTS', p .. 'epoch') == 1 then return 0 end
if redis.call('GET', p .. 'rebuilding') ~= ARGV[1] then return -1 end
redis.call('SET', p .. 'seq', ARGV[2])
if ARGV[3] == '1' then redis.call('HSET', p .. 'meta', 'soldout', '1') end
if ARGV[5] ~= '' then redis.call('HSET', p .. 'meta', 'drawn', '1', 'drawnFor', ARGV[5], 'drawnAt', ARGV[6]) end
if ARGV[7] == '1' and ARGV[3] ~= '1' then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local offered = 0
  for _, token in ipairs(redis.call('ZRANGE', p .. 'active', 0, -1)) do
    if tonumber(redis.call('HGET', p .. 't:' .. token, 'hu') or '0') <= now then offered = offered + 1 end
  end
  redis.call('HSET', p .. 'meta', 'soldout', '1', 'waitlist', '1', 'credits', math.max(0, tonumber(ARGV[8]) - offered))
end
redis.call('SET', p .. 'epoch', ARGV[4])
redis.call('DEL', p .. 'rebuilding')
return 1
`;

/** KEYS: p, tag. ARGV: owner. Gives the lock up (a rebuild that failed half-way: the next one starts over). */
export const UNLOCK = `
if redis.call('GET', KEYS[1] .. 'rebuilding') == ARGV[1] then return redis.call('DEL', KEYS[1] .. 'rebuilding') end
return 0
`;

/** KEYS: p, tag. Drops the marker of a line found older than the journal (a replica that lagged): it is rebuilt. */
export const INVALIDATE = `
if redis.call('EXISTS', KEYS[1] .. 'rebuilding') == 1 then return 0 end
return redis.call('DEL', KEYS[1] .. 'epoch')
`;
