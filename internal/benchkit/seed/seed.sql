-- The seeding tool's set-based SQL, run step by step on one connection
-- after the real migrations, with seed_params (one row) filled by main.go.
-- Everything is derived from the offering number o, so a subset seeded
-- into another schema (-keep) is the same data for those offerings.
--
-- Time: day d of the history is the UTC date today - (dmax - d); offering
-- o's events that day happen at ((o-1) * span_ms / n) ms past midnight,
-- plus one ms per slot. Transfer ids are ((d * n) + o - 1) * 64 + slot + 1,
-- so ids follow time as they do in production.
--
-- Slots: 0-49 settlements, 50 the day's accrual, 51-54 a payout (payout
-- and fee budget reserved, then posted).

-- step: plan
CREATE TEMP TABLE plan AS
WITH base AS (
    SELECT o,
        CASE WHEN o % 20 = 0 THEN 0 WHEN o % 100 = 5 THEN 50 ELSE 1 END AS w,
        1000 * (1 + (o * 31) % 500)::bigint AS burn
    FROM seed_params p, generate_series(1, p.n) AS o
), counted AS (
    SELECT b.*, floor(p.inv * b.w::numeric / sum(b.w) OVER ())::bigint AS k0,
        row_number() OVER (PARTITION BY b.w > 0 ORDER BY b.o) AS funded_rank
    FROM base b, seed_params p
), remainder AS (
    SELECT c.*, p.inv - sum(c.k0) OVER () AS rem FROM counted c, seed_params p
), sized AS (
    SELECT o, burn, k0 + CASE WHEN w > 0 AND funded_rank <= rem THEN 1 ELSE 0 END AS k
    FROM remainder
), typed AS (
    SELECT s.o, s.burn, s.k,
        CASE WHEN s.k = 0 THEN 'none' WHEN s.o % 20 IN (1, 2) THEN 'dead' WHEN s.o % 20 = 3 THEN 'grace' ELSE 'alive' END AS cat,
        -- active days: when payments came and runway was consumed; enough
        -- days that no day holds more than 50 settlements
        greatest(p.a_avg / 2 + (s.o * 7919) % (p.a_avg + 1), ceil(s.k / 50.0)::int + 1, 1) AS act
    FROM sized s, seed_params p
)
SELECT o, burn, k, cat, act,
    24 * burn AS c,
    CASE cat WHEN 'alive' THEN 1 + o % 60 ELSE 0 END AS extra_days,
    CASE cat WHEN 'dead' THEN act + 10 + o % 50 WHEN 'none' THEN 1 + o % 100 ELSE act END AS life,
    CASE cat WHEN 'grace' THEN 172800 ELSE 3600 * (o % 48) END AS grace_seconds
FROM typed;

-- step: plan-amounts
ALTER TABLE plan ADD COLUMN a BIGINT, ADD COLUMN s INT;

-- step: plan-fill
UPDATE plan SET a = CASE WHEN k > 0 THEN ceil(c * (act + extra_days)::numeric / k)::bigint END;

-- step: dmax
UPDATE seed_params SET dmax = (SELECT max(life) FROM plan);

-- step: plan-start
UPDATE plan SET s = (SELECT dmax FROM seed_params) - life;

-- step: keep
DELETE FROM plan USING seed_params p WHERE p.keep_upto > 0 AND plan.o > p.keep_upto AND plan.o <> ALL (p.keep);

-- step: functions
-- Plain expressions of their arguments, with the parameters written in
-- ({{…}}, filled by main.go), so that PostgreSQL inlines them.
CREATE FUNCTION pg_temp.seed_at(d BIGINT, o BIGINT, slot BIGINT) RETURNS TIMESTAMPTZ AS $$
    SELECT '{{today}}'::timestamptz - ({{dmax}} - d) * interval '1 day' + (((o - 1) * {{span_ms}} / {{n}}) + slot) * interval '1 millisecond'
$$ LANGUAGE sql STABLE;

-- step: functions-id
CREATE FUNCTION pg_temp.seed_id(d BIGINT, o BIGINT, slot BIGINT) RETURNS BIGINT AS $$
    SELECT ((d * {{n}}) + o - 1) * 64 + slot + 1
$$ LANGUAGE sql STABLE;

-- step: functions-assert
CREATE FUNCTION pg_temp.seed_assert(ok BOOLEAN, what TEXT) RETURNS VOID AS $$
BEGIN
    IF NOT ok THEN
        RAISE EXCEPTION 'seed: %', what;
    END IF;
END;
$$ LANGUAGE plpgsql;

-- step: accounts
INSERT INTO accounts (id, name, allow_negative, created_at)
SELECT 1, 'lightning', TRUE, p.today - (p.dmax + 1) * interval '1 day' FROM seed_params p
UNION ALL
SELECT 2, 'lightning/routing-fees', FALSE, p.today - (p.dmax + 1) * interval '1 day' FROM seed_params p
UNION ALL
SELECT 2 * o + side, 'offering/' || o || CASE side WHEN 1 THEN '/runway' ELSE '/earned' END, FALSE,
    pg_temp.seed_at(s, o, 0) - interval '10 minutes'
FROM plan, (VALUES (1), (2)) AS sides(side);

-- step: offerings
INSERT INTO offerings (id, slug, name, url, description, burn_rate_msat_per_hour, burn_unit, grace_seconds, manage_key_hash,
    runway_account_id, earned_account_id, accrued_at, funded_until, created_at, updated_at)
SELECT o, 'seed-' || o, 'Seeded site ' || o || ' ' || md5(o::text), 'https://seed-' || o || '.example.org',
    'An offering the benchmark seeded, ' || cat || '.', burn, (ARRAY['hour', 'day', 'month'])[1 + o % 3], grace_seconds,
    md5('manage' || o) || md5('key' || o), 2 * o + 1, 2 * o + 2,
    x.accrued_at,
    CASE cat
        WHEN 'none' THEN NULL
        WHEN 'dead' THEN x.accrued_at
        ELSE x.accrued_at + floor((k * a - act * c) * 3600000.0 / burn) * interval '1 millisecond'
    END,
    pg_temp.seed_at(s, o, 0) - interval '10 minutes', x.accrued_at
FROM plan, LATERAL (SELECT CASE WHEN cat = 'none' THEN pg_temp.seed_at(s, o, 0) - interval '10 minutes'
    ELSE pg_temp.seed_at(s + act, o, 50) END AS accrued_at) AS x;

-- step: invoices
INSERT INTO invoices (payment_hash, payment_request, purpose, offering_id, amount_msat, paid_msat, state,
    payer_name, payer_message, public, via, settle_index, expires_at, settled_at, created_at)
SELECT h.hash, 'lnbcrt' || (a / 1000) || 'n1seed' || h.hash, 'donation', o, a, a, 'settled',
    CASE WHEN j % 3 = 0 THEN 'Backer ' || o || '-' || j ELSE '' END,
    CASE WHEN j % 4 = 0 THEN 'Keep it up! #' || j ELSE '' END,
    j % 2 = 0, (ARRAY['web', 'api', 'lnurl'])[1 + j % 3],
    row_number() OVER (ORDER BY pg_temp.seed_id(s + (j * act / k)::int, o, (j % 50)::int)),
    t.at + interval '1 hour', t.at, t.at - interval '30 seconds'
FROM plan, generate_series(0, k - 1) AS j,
    LATERAL (SELECT md5('inv' || o || ':' || j) || md5('h' || o || ':' || j) AS hash) AS h,
    LATERAL (SELECT pg_temp.seed_at(s + (j * act / k)::int, o, (j % 50)::int) AS at) AS t
WHERE k > 0
ORDER BY t.at;

-- step: payouts
INSERT INTO payouts (payment_hash, payment_request, source_account, offering_id, destination, amount_msat, fee_limit_msat,
    fee_msat, state, created_at, finished_at)
SELECT md5('payout' || o || ':' || m) || md5('p' || o || ':' || m), 'lnbcrt1seedpayout' || o || 'x' || m,
    'offering/' || o || '/earned', o, 'invoice', 10 * c - c / 100, c / 100, c / 200, 'succeeded',
    pg_temp.seed_at(s + 10 * m, o, 51), pg_temp.seed_at(s + 10 * m, o, 54)
FROM plan, generate_series(1, act / 10) AS m
WHERE k > 0
ORDER BY 10;

-- step: transfers
INSERT INTO transfers (id, key, debit_account_id, credit_account_id, amount_msat, kind, pending_id, memo, created_at)
SELECT id, key, debit, credit, amount, kind, pending_id, memo, at FROM (
    -- settlements: lightning -> runway
    SELECT pg_temp.seed_id(s + (j * act / k)::int, o, (j % 50)::int) AS id,
        'invoice:' || md5('inv' || o || ':' || j) || md5('h' || o || ':' || j) AS key,
        1::bigint AS debit, 2 * o + 1 AS credit, a AS amount, 'posted' AS kind, NULL::bigint AS pending_id,
        'donation' AS memo, pg_temp.seed_at(s + (j * act / k)::int, o, (j % 50)::int) AS at
    FROM plan, generate_series(0, k - 1) AS j WHERE k > 0
    UNION ALL
    -- the day's accrual: runway -> earned; a dead offering's last one
    -- consumes what was left
    SELECT pg_temp.seed_id(s + i, o, 50),
        'accrual:' || o || ':' || (extract(epoch FROM pg_temp.seed_at(s + i - 1, o, 50)) * 1000)::bigint,
        2 * o + 1, 2 * o + 2, CASE WHEN cat = 'dead' AND i = act THEN k * a - (act - 1) * c ELSE c END,
        'posted', NULL, 'runway consumed', pg_temp.seed_at(s + i, o, 50)
    FROM plan, generate_series(1, act) AS i WHERE k > 0
    UNION ALL
    -- payouts every ten days: earned -> lightning and the fee budget,
    -- reserved, then posted (the fee at half its budget)
    SELECT pg_temp.seed_id(s + 10 * m, o, 51 + step),
        CASE step % 2 WHEN 0 THEN 'payout:' ELSE 'payout-fee:' END || md5('payout' || o || ':' || m) || md5('p' || o || ':' || m)
            || CASE WHEN step >= 2 THEN ':sent' ELSE '' END,
        2 * o + 2, CASE step % 2 WHEN 0 THEN 1 ELSE 2 END,
        CASE step WHEN 0 THEN 10 * c - c / 100 WHEN 1 THEN c / 100 WHEN 2 THEN 10 * c - c / 100 ELSE c / 200 END,
        CASE WHEN step < 2 THEN 'pending' ELSE 'post_pending' END,
        CASE WHEN step >= 2 THEN pg_temp.seed_id(s + 10 * m, o, 51 + step - 2) END,
        CASE step WHEN 0 THEN 'payout' WHEN 1 THEN 'routing fee budget' ELSE '' END,
        pg_temp.seed_at(s + 10 * m, o, 51 + step)
    FROM plan, generate_series(1, act / 10) AS m, generate_series(0, 3) AS step WHERE k > 0
) AS all_transfers
ORDER BY id;

-- step: consumption-days
INSERT INTO consumption_days (offering_id, day, amount_msat, postings, first_transfer_id, last_transfer_id, first_at, last_at)
SELECT (t.debit_account_id - 1) / 2, to_char(t.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD'), t.amount_msat, 1, t.id, t.id,
    t.created_at, t.created_at
FROM transfers t
WHERE t.key LIKE 'accrual:%';

-- step: foreign-keys
-- The load ran without FK triggers (session_replication_role = replica):
-- check what they would have checked, at once.
SELECT pg_temp.seed_assert(NOT EXISTS (
    SELECT 1 FROM transfers t WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.debit_account_id)
        OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = t.credit_account_id)
        OR (t.pending_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM transfers p WHERE p.id = t.pending_id)))
    AND NOT EXISTS (SELECT 1 FROM invoices i WHERE NOT EXISTS (SELECT 1 FROM offerings o WHERE o.id = i.offering_id))
    AND NOT EXISTS (SELECT 1 FROM payouts x WHERE NOT EXISTS (SELECT 1 FROM offerings o WHERE o.id = x.offering_id))
    AND NOT EXISTS (SELECT 1 FROM consumption_days d WHERE NOT EXISTS (SELECT 1 FROM offerings o WHERE o.id = d.offering_id))
    AND NOT EXISTS (SELECT 1 FROM offerings o WHERE NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.runway_account_id)
        OR NOT EXISTS (SELECT 1 FROM accounts a WHERE a.id = o.earned_account_id)),
    'a row names a missing account, offering or pending transfer');

-- step: account-totals
UPDATE accounts a SET
    debits_posted = s.dp, credits_posted = s.cp, debits_pending = s.dpend, credits_pending = s.cpend
FROM (
    SELECT account,
        sum(CASE WHEN side = 'd' AND kind IN ('posted', 'post_pending') THEN amount ELSE 0 END) AS dp,
        sum(CASE WHEN side = 'c' AND kind IN ('posted', 'post_pending') THEN amount ELSE 0 END) AS cp,
        sum(CASE WHEN side = 'd' AND kind = 'pending' THEN amount WHEN side = 'd' AND kind IN ('post_pending', 'void_pending') THEN -pending_amount ELSE 0 END) AS dpend,
        sum(CASE WHEN side = 'c' AND kind = 'pending' THEN amount WHEN side = 'c' AND kind IN ('post_pending', 'void_pending') THEN -pending_amount ELSE 0 END) AS cpend
    FROM (
        SELECT CASE side WHEN 'd' THEN t.debit_account_id ELSE t.credit_account_id END AS account, side, t.kind,
            t.amount_msat AS amount,
            CASE WHEN t.pending_id IS NOT NULL THEN (SELECT p.amount_msat FROM transfers p WHERE p.id = t.pending_id) END AS pending_amount
        FROM transfers t, (VALUES ('d'), ('c')) AS sides(side)
    ) AS sides
    GROUP BY account
) AS s
WHERE a.id = s.account AND NOT a.allow_negative;

-- step: sequences
SELECT setval('accounts_id_seq', (SELECT max(id) FROM accounts)),
    setval('offerings_id_seq', (SELECT max(id) FROM offerings)),
    setval('transfers_id_seq', (SELECT max(id) FROM transfers)),
    setval('invoices_id_seq', greatest(1, (SELECT max(id) FROM invoices))),
    setval('payouts_id_seq', greatest(1, (SELECT max(id) FROM payouts)));

-- step: investment-terms
INSERT INTO investment_terms (offering_id, share_bps, cap_bps, min_msat, max_msat, raise_limit_msat, open, updated_at)
SELECT o, 1000 + o % 4000, 20000, 1000000, 100000000, NULL, o % 2 = 0, now() FROM plan WHERE o % 50 = 7;

-- step: sponsorship-settings
INSERT INTO sponsorship_settings (offering_id, enabled, slots, period, reserve_msat, weights_bps, open_periods, updated_at)
SELECT o, TRUE, 3, 'week', 1000000, '[5000,3000,2000]', 4, now() FROM plan WHERE o % 50 = 9;
