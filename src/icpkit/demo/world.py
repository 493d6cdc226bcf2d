"""Simulate one chunk of the true world: companies, deals, signals and their outcomes."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from icpkit.demo import contacts as P
from icpkit.demo import truth as T
from icpkit.demo import vocab as V
from icpkit.demo.lines import LinePlant

I64 = NDArray[np.int64]
F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]


def day_number(iso: str) -> int:
    """Days since 1970-01-01 of an ISO date."""
    return int(np.datetime64(iso, "D").astype(np.int64))


DEALS_FROM_DAY = day_number(T.DEALS_FROM)
DEALS_TO_DAY = day_number(T.DEALS_TO)
FUNDING_FROM_DAY = day_number(T.FUNDING_FROM)
SIGNALS_FROM_DAY = day_number(T.SIGNALS_FROM)
WEB_FROM_DAY = day_number(T.WEB_VISITS_FROM)
PROSPECT_FROM_DAY = day_number("2021-01-01")
SOFTWARE, RETAIL, PUBLIC_ADMIN = 0, 4, 7
HUBSPOT = 0
NEVER = np.iinfo(np.int64).max
SIGNAL_KEY = 1 << 20  # > any day number, so company * KEY + day sorts by company then day


@dataclass(frozen=True)
class World:
    """True state of one chunk; company arrays have n_c rows, deal arrays n_d, signal n_s."""

    # companies
    emp: I64
    ind: I64
    cty: I64
    tech: Bool
    tech_mask: I64
    city: I64
    founded: I64
    lead: I64
    revenue: I64
    tld_own: Bool
    icp: Bool
    customer: Bool
    since: I64
    churned: Bool
    churn_day: I64
    tier: I64
    n_deals_of: I64
    has_open: Bool
    create_day: I64
    create_min: I64
    prospect_stage: I64
    raised: I64
    # deals
    comp: I64
    cday: I64
    cmin: I64
    close_day: I64
    closed: Bool
    won: Bool
    is_eb: Bool
    p_win: F64
    fund: Bool
    sdr: Bool
    amount: I64
    stage_open: I64
    owner: I64
    eb_suffix: I64
    # signals
    s_comp: I64
    s_day: I64
    s_type: I64
    s_code: I64
    s_usd: I64
    # product line of each company (0 or 1), only when a second line is planted
    line: I64 | None = None
    # contacts, only when the buyer persona is planted
    people: P.People | None = None


def logistic(x: F64) -> F64:
    """The logistic function 1 / (1 + e^-x)."""
    return np.asarray(1.0 / (1.0 + np.exp(-x)), dtype=np.float64)


def _hits(sig_comp: I64, sig_day: I64, comp: I64, day: I64, lo: int, hi: int) -> Bool:
    """Whether each (comp, day) has a signal dated lo..hi days before it (inclusive)."""
    keys = np.sort(sig_comp * SIGNAL_KEY + sig_day)
    base = comp * SIGNAL_KEY + day
    right = np.searchsorted(keys, base - lo, "right")
    left = np.searchsorted(keys, base - hi, "left")
    return np.asarray(right > left)


def simulate(
    rng: np.random.Generator,
    n_d: int,
    n_c: int,
    drift: T.Drift | None = None,
    lines: LinePlant | None = None,
    people: np.random.Generator | None = None,
) -> World:
    """Draw the companies, deals, intent signals and outcomes of one chunk; ``drift`` moves
    the win rate of one segment's deals created on or after its day (no extra draws, so
    everything else stays as without it); ``lines`` gives line-2 companies line 2's market
    and win model (icpkit.demo.lines);
    ``people`` (a stream of its own) draws contacts whose planted roles move the win rate."""
    # ---- companies ---------------------------------------------------------------------------
    emp = np.rint(np.exp(rng.normal(np.log(T.EMP_MEDIAN), T.EMP_SIGMA, n_c)))
    emp = np.clip(emp, 1, T.EMP_MAX).astype(np.int64)
    ind = rng.choice(len(T.INDUSTRIES), n_c, p=T.INDUSTRY_P).astype(np.int64)
    cty = rng.choice(len(T.COUNTRIES), n_c, p=T.COUNTRY_P).astype(np.int64)
    tool_p = np.tile(np.asarray(T.TOOL_P), (n_c, 1))
    tool_p[ind == SOFTWARE, HUBSPOT] = T.HUBSPOT_P_SOFTWARE
    tech = rng.random((n_c, len(T.TOOLS))) < tool_p
    tech_mask = (tech.astype(np.int64) << np.arange(len(T.TOOLS))).sum(axis=1)
    if lines is not None:
        emp, ind, tech, tech_mask = lines.market(emp, ind, tech)
    city_n = np.array([len(c) for c in V.CITIES])
    city_start = np.concatenate([[0], np.cumsum(city_n)[:-1]])
    city = city_start[cty] + (rng.random(n_c) * city_n[cty]).astype(np.int64)
    founded = np.clip(2024 - np.floor(rng.exponential(18.0, n_c)), 1900, 2023).astype(np.int64)
    lead = rng.integers(0, len(V.LEAD_SOURCES), n_c)
    revenue = np.round(emp * np.exp(rng.normal(np.log(150_000), 0.6, n_c)), -3)
    revenue = np.maximum(revenue, 50_000).astype(np.int64)
    tld_own = rng.random(n_c) < 0.7

    mid = (emp >= T.MID_MIN) & (emp <= T.MID_MAX)
    micro = emp <= T.MICRO_MAX
    ent = emp >= T.ENTERPRISE_MIN
    soft, pub, retail = ind == SOFTWARE, ind == PUBLIC_ADMIN, ind == RETAIL
    hub = tech[:, HUBSPOT]
    icp = mid & soft & hub
    if lines is not None:
        icp = lines.icp(icp, emp, ind, tech)

    # ---- deals: who and when ------------------------------------------------------------------
    # Targeting: sales opened 3x as many deals per enterprise account.
    weight = np.where(ent, T.ENTERPRISE_DEAL_WEIGHT, 1.0)
    comp = rng.choice(n_c, n_d, p=weight / weight.sum()).astype(np.int64)
    n_days = DEALS_TO_DAY - DEALS_FROM_DAY + 1
    ts = np.sort(rng.integers(0, n_days, n_d) * 1440 + rng.integers(8 * 60, 19 * 60, n_d))
    cday = DEALS_FROM_DAY + ts // 1440
    cmin = ts % 1440

    # ---- funding rounds: background, plus rounds placed around deals --------------------------
    # Placed rounds sit inside the effect window, or just outside it / at another stage as
    # decoys, so the window boundaries and the stage filter are both testable.
    n_f = rng.poisson(0.5, n_c) * ~pub
    f_comp = np.repeat(np.arange(n_c), n_f)
    f_day = rng.integers(FUNDING_FROM_DAY, DEALS_TO_DAY + 1, len(f_comp))
    f_stage = rng.choice(5, len(f_comp), p=V.FUNDING_STAGE_P)
    u = rng.random(n_d)
    ok = ~pub[comp]
    planted = ok & (u < T.PLANTED_FUNDING_SHARE)
    decoy = ok & (u >= T.PLANTED_FUNDING_SHARE)
    decoy &= u < T.PLANTED_FUNDING_SHARE + T.PLANTED_FUNDING_DECOY_SHARE
    in_window = cday - rng.integers(T.FUNDING_WINDOW[0], T.FUNDING_WINDOW[1] + 1, n_d)
    too_close = cday - rng.integers(0, T.FUNDING_WINDOW[0], n_d)
    too_old = cday - rng.integers(T.FUNDING_WINDOW[1] + 1, 901, n_d)
    ab_stage = rng.integers(1, 3, n_d)
    other_stage = rng.choice(np.array([0, 3, 4]), n_d)
    decoy_kind = rng.integers(0, 3, n_d)  # 0: A/B too recent, 1: A/B too old, 2: wrong stage
    d_day = np.where(decoy_kind == 0, too_close, np.where(decoy_kind == 1, too_old, in_window))
    d_stage = np.where(decoy_kind == 2, other_stage, ab_stage)
    f_comp = np.concatenate([f_comp, comp[planted], comp[decoy]])
    f_day = np.concatenate([f_day, in_window[planted], d_day[decoy]])
    f_stage = np.concatenate([f_stage, ab_stage[planted], d_stage[decoy]])
    f_musd = np.asarray(V.FUNDING_MEDIAN_MUSD)[f_stage] * np.exp(rng.normal(0, 0.5, len(f_comp)))
    f_usd = np.maximum(np.round(f_musd * 10), 1).astype(np.int64) * 100_000

    # ---- job postings: background, plus SDR postings placed around deals -------------------
    n_j = rng.poisson(1.0, n_c)
    j_comp = np.repeat(np.arange(n_c), n_j)
    j_day = rng.integers(SIGNALS_FROM_DAY, DEALS_TO_DAY + 1, len(j_comp))
    j_role = rng.choice(len(V.JOB_ROLES), len(j_comp), p=V.JOB_ROLE_P)
    u = rng.random(n_d)
    planted = u < T.PLANTED_SDR_SHARE
    decoy = (u >= T.PLANTED_SDR_SHARE) & (u < T.PLANTED_SDR_SHARE + T.PLANTED_SDR_DECOY_SHARE)
    in_window = cday - rng.integers(T.SDR_WINDOW[0], T.SDR_WINDOW[1] + 1, n_d)
    too_old = cday - rng.integers(T.SDR_WINDOW[1] + 1, 366, n_d)
    other_role = rng.integers(1, len(V.JOB_ROLES), n_d)
    decoy_kind = rng.integers(0, 2, n_d)  # 0: SDR too old, 1: another role in the window
    d_day = np.where(decoy_kind == 0, too_old, in_window)
    d_role = np.where(decoy_kind == 0, 0, other_role)
    j_comp = np.concatenate([j_comp, comp[planted], comp[decoy]])
    j_day = np.concatenate([j_day, in_window[planted], d_day[decoy]])
    j_role = np.concatenate([j_role, np.zeros(int(planted.sum()), np.int64), d_role[decoy]])

    # ---- noise signals ---------------------------------------------------------------------
    n_l = rng.poisson(0.25, n_c)
    l_comp = np.repeat(np.arange(n_c), n_l)
    l_day = rng.integers(SIGNALS_FROM_DAY, DEALS_TO_DAY + 1, len(l_comp))
    l_code = rng.integers(0, len(V.LEADERSHIP_DETAILS), len(l_comp))
    # tech_added events date the adoption of a tool the company actually runs.
    n_t = rng.poisson(0.4, n_c)
    t_comp = np.repeat(np.arange(n_c), n_t)
    t_day = rng.integers(SIGNALS_FROM_DAY, DEALS_TO_DAY + 1, len(t_comp))
    t_code = rng.integers(0, len(T.TOOLS), len(t_comp))
    keep = tech[t_comp, t_code]
    t_comp, t_day, t_code = t_comp[keep], t_day[keep], t_code[keep]
    n_w = rng.poisson(0.8, n_c)
    w_comp = np.repeat(np.arange(n_c), n_w)
    w_day = rng.integers(WEB_FROM_DAY, DEALS_TO_DAY + 1, len(w_comp))
    w_code = rng.integers(0, len(V.WEB_PAGES), len(w_comp))

    ab = (f_stage == 1) | (f_stage == 2)
    fund = _hits(f_comp[ab], f_day[ab], comp, cday, *T.FUNDING_WINDOW)
    sdr_post = j_role == 0
    sdr = _hits(j_comp[sdr_post], j_day[sdr_post], comp, cday, *T.SDR_WINDOW)

    # ---- deals: outcomes -------------------------------------------------------------------
    c = comp
    # A tool counts from its dated adoption: HubSpot helps a deal created on or after the
    # company's first tech_added HubSpot event; without such an event it always ran.
    hub_event = t_code == HUBSPOT
    adopted = np.full(n_c, NEVER, dtype=np.int64)
    np.minimum.at(adopted, t_comp[hub_event], t_day[hub_event])
    hub_then = hub[c] & ((adopted[c] == NEVER) | (cday >= adopted[c]))
    x = np.full(n_d, T.BASE_LOG_ODDS)
    x += T.FIT_MID_MARKET * mid[c] + T.FIT_SOFTWARE * soft[c] + T.FIT_HUBSPOT * hub_then
    if lines is not None:
        x = lines.fit_log_odds(x, c, emp, ind, tech)
    x += T.INTENT_FUNDING * fund + T.INTENT_SDR * sdr
    x += T.DQ_PUBLIC_ADMIN * pub[c] + T.DQ_MICRO * micro[c] + T.ENTERPRISE_LOG_ODDS * ent[c]
    if drift is not None:
        segment = {"software": soft[c], "mid_market": mid[c], "hubspot": hub_then}[drift.segment]
        after = cday >= day_number(drift.after.isoformat())
        x += drift.log_odds * (segment & after)
    contacts = None
    if people is not None:
        contacts = P.draw(people, n_c, comp, cday, DEALS_TO_DAY)
        x += P.persona_log_odds(contacts, comp, cday)
    p_nb = logistic(x)
    cycle_mean = T.CYCLE_MEAN_DAYS * np.where(icp[c], T.CYCLE_ICP_MULTIPLIER, 1.0)
    cycle_mean *= np.where(ent[c], T.CYCLE_ENTERPRISE_MULTIPLIER, 1.0)
    cycle = rng.gamma(T.CYCLE_SHAPE, cycle_mean / T.CYCLE_SHAPE)
    cycle_days = np.maximum(1, np.rint(cycle)).astype(np.int64)
    close_day = cday + cycle_days
    closed = close_day <= DEALS_TO_DAY
    acv_median = T.ACV_MEDIAN_AT_100 * (emp[c] / 100.0) ** T.ACV_SIZE_ELASTICITY
    acv_median *= np.where(icp[c], T.ACV_ICP_MULTIPLIER, 1.0)
    if lines is not None:
        acv_median *= lines.acv_multiplier(c)
    acv = acv_median * np.exp(rng.normal(0.0, T.ACV_SIGMA, n_d))
    expansion_amount = acv * T.EXPANSION_AMOUNT_SHARE * np.exp(rng.normal(0.0, 0.4, n_d))
    u_out = rng.random(n_d)

    # An account is a customer from its first won New Business close; later deals are
    # Existing Business. Deciding all NB outcomes first and taking the earliest won close is
    # the same as walking each account's deals in order.
    won_nb = (u_out < p_nb) & closed
    since = np.full(n_c, NEVER, dtype=np.int64)
    np.minimum.at(since, c[won_nb], close_day[won_nb])
    customer = since < NEVER
    if people is not None and contacts is not None:
        contacts = P.onboarding(people, contacts, since, customer, DEALS_TO_DAY)
    is_eb = cday > since[c]

    churn_x = T.CHURN_BASE_LOG_ODDS + T.CHURN_MICRO * micro + T.CHURN_RETAIL * retail
    churn_p = logistic(churn_x + T.CHURN_ICP * icp)
    room = np.where(customer, DEALS_TO_DAY - since - T.CHURN_MIN_DAYS, -1)
    span = np.clip(room, 0, T.CHURN_MAX_DAYS - T.CHURN_MIN_DAYS)
    churned = customer & (rng.random(n_c) < churn_p) & (room >= 0)
    churn_offset = np.floor(rng.random(n_c) * (span + 1)).astype(np.int64)
    churn_day = np.where(churned, since + T.CHURN_MIN_DAYS + churn_offset, NEVER)

    p_eb = logistic(T.EXPANSION_BASE_LOG_ODDS + T.EXPANSION_ICP * icp[c])
    gone = is_eb & (cday > churn_day[c])
    p_win = np.where(is_eb, np.where(gone, 0.0, p_eb), p_nb)
    won = (u_out < p_win) & closed
    amount = np.maximum(10, np.round(np.where(is_eb, expansion_amount, acv), -1)).astype(np.int64)
    # Open deals sit further down the pipeline the longer they have been open.
    stage_open = np.clip(((DEALS_TO_DAY + 1 - cday) / cycle_days * 5).astype(np.int64), 0, 4)
    owner = rng.integers(0, len(V.DEAL_OWNERS), n_d)
    eb_suffix = rng.integers(0, len(V.EXPANSION_DEAL_SUFFIXES), n_d)

    # ---- tiers: judged on the first won New Business deal plus churn and expansion -----------
    first_win = np.flatnonzero(won_nb & (close_day == since[c]))
    first_comp, pos = np.unique(c[first_win], return_index=True)
    first_deal = first_win[pos]
    big_first = np.zeros(n_c, dtype=bool)
    big_first[first_comp] = amount[first_deal] >= T.TIER1_MIN_ACV
    fast_first = np.zeros(n_c, dtype=bool)
    fast_first[first_comp] = cycle_days[first_deal] <= T.TIER1_MAX_CYCLE_DAYS
    expanded = np.zeros(n_c, dtype=bool)
    expanded[c[is_eb & won]] = True
    tier1 = fast_first & (big_first | expanded)
    tier = np.where(~customer, 0, np.where(churned, 3, np.where(tier1, 1, 2)))

    n_deals_of = np.bincount(c, minlength=n_c)
    has_open = np.zeros(n_c, dtype=bool)
    has_open[c[~closed]] = True
    with_deals, first_pos = np.unique(c, return_index=True)
    first_deal_day = np.full(n_c, DEALS_TO_DAY, dtype=np.int64)
    first_deal_day[with_deals] = cday[first_pos]
    create_day = np.where(
        n_deals_of > 0,
        first_deal_day - rng.integers(0, 541, n_c),
        rng.integers(PROSPECT_FROM_DAY, DEALS_TO_DAY + 1, n_c),
    )
    create_min = rng.integers(0, 1440, n_c)
    prospect_stage = rng.integers(0, len(V.LIFECYCLE_PROSPECT), n_c)
    raised = np.bincount(f_comp, weights=f_usd, minlength=n_c).astype(np.int64)

    sizes = [len(f_comp), len(j_comp), len(l_comp), len(t_comp), len(w_comp)]
    return World(
        emp=emp,
        ind=ind,
        cty=cty,
        tech=tech,
        tech_mask=tech_mask,
        city=city,
        founded=founded,
        lead=lead,
        revenue=revenue,
        tld_own=tld_own,
        icp=icp,
        customer=customer,
        since=since,
        churned=churned,
        churn_day=churn_day,
        tier=tier,
        n_deals_of=n_deals_of,
        has_open=has_open,
        create_day=create_day,
        create_min=create_min,
        prospect_stage=prospect_stage,
        raised=raised,
        comp=comp,
        cday=cday,
        cmin=cmin,
        close_day=close_day,
        closed=closed,
        won=won,
        is_eb=is_eb,
        p_win=p_win,
        fund=fund,
        sdr=sdr,
        amount=amount,
        stage_open=stage_open,
        owner=owner,
        eb_suffix=eb_suffix,
        s_comp=np.concatenate([f_comp, j_comp, l_comp, t_comp, w_comp]),
        s_day=np.concatenate([f_day, j_day, l_day, t_day, w_day]),
        s_type=np.repeat(np.arange(5), sizes),
        s_code=np.concatenate([f_stage, j_role, l_code, t_code, w_code]),
        s_usd=np.concatenate([f_usd, np.zeros(sum(sizes[1:]), np.int64)]),
        line=None if lines is None else lines.line,
        people=contacts,
    )
