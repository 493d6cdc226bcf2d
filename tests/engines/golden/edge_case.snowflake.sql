WITH signal_ages AS (
  SELECT
    s.account_key,
    MIN(
      CASE
        WHEN s.signal_type = 'funding_round'
        AND s.age BETWEEN 60 AND 540
        AND s.kind IN ('Series A', 'Series B')
        THEN s.age
      END
    ) AS age_r12,
    MIN(
      CASE
        WHEN s.signal_type = 'job_posting' AND s.age BETWEEN 0 AND 90 AND s.kind IN ('SDR')
        THEN s.age
      END
    ) AS age_r13,
    MIN(CASE WHEN s.signal_type = 'web_visit' AND s.age BETWEEN 0 AND 30 THEN s.age END) AS age_r14
  FROM (
    SELECT
      account_key,
      signal_type,
      REGEXP_REPLACE(COALESCE(detail, ''), '^[$€£]?[0-9][0-9.,]*[ ]*[kKmMbB]?[ ]+', '') AS kind,
      DATEDIFF(DAY, CAST(observed_at AS DATE), CAST('2025-10-01' AS DATE)) AS age
    FROM crm.signals
    WHERE
      CAST(observed_at AS DATE) <= CAST('2025-10-01' AS DATE)
  ) AS s
  GROUP BY
    s.account_key
), persona_contacts AS (
  SELECT
    p.account_key,
    MAX(
      CASE
        WHEN LOWER(p.seniority) IN ('vp', 'director')
        AND LOWER(p.department) IN ('sales')
        AND (
          CHARINDEX('revops', LOWER(p.job_title)) > 0
        )
        THEN 1
        ELSE 0
      END
    ) AS matches
  FROM crm.contacts AS p
  WHERE
    p.created_at IS NULL OR CAST(p.created_at AS DATE) <= CAST('2025-10-01' AS DATE)
  GROUP BY
    p.account_key
), matches AS (
  SELECT
    a.account_key AS account_key,
    COALESCE(a.employees >= 51 AND a.employees <= 200, FALSE) AS m_r0,
    CASE
      WHEN (
        COALESCE(a.industry, '(missing)')
      ) = '(missing)'
      THEN FALSE
      ELSE (
        COALESCE(a.industry, '(missing)')
      ) IN ('Software')
    END AS m_r1,
    CASE
      WHEN a.technologies IS NULL
      THEN FALSE
      ELSE COALESCE(
        ARRAY_CONTAINS(CAST('HubSpot' AS VARIANT), a.technologies)
        OR ARRAY_CONTAINS(CAST('O\'Reilly Tool' AS VARIANT), a.technologies),
        FALSE
      )
    END AS m_r2,
    CASE
      WHEN (
        CASE
          WHEN a.revenue IS NULL
          THEN '(missing)'
          WHEN a.revenue <= 1000000.0
          THEN '<$1M'
          WHEN a.revenue <= 10000000.0
          THEN '$1M-$10M'
          WHEN a.revenue <= 50000000.0
          THEN '$10M-$50M'
          WHEN a.revenue <= 100000000.0
          THEN '$50M-$100M'
          WHEN a.revenue <= 1000000000.0
          THEN '$100M-$1B'
          ELSE '$1B+'
        END
      ) = '(missing)'
      THEN FALSE
      ELSE (
        CASE
          WHEN a.revenue IS NULL
          THEN '(missing)'
          WHEN a.revenue <= 1000000.0
          THEN '<$1M'
          WHEN a.revenue <= 10000000.0
          THEN '$1M-$10M'
          WHEN a.revenue <= 50000000.0
          THEN '$10M-$50M'
          WHEN a.revenue <= 100000000.0
          THEN '$50M-$100M'
          WHEN a.revenue <= 1000000000.0
          THEN '$100M-$1B'
          ELSE '$1B+'
        END
      ) IN ('$10M-$50M')
    END AS m_r3,
    CASE
      WHEN (
        CASE
          WHEN a.technologies IS NULL
          THEN '(missing)'
          WHEN COALESCE(ARRAY_SIZE(a.technologies), 0) <= 2
          THEN '0-2 tools'
          WHEN ARRAY_SIZE(a.technologies) <= 5
          THEN '3-5 tools'
          WHEN ARRAY_SIZE(a.technologies) <= 8
          THEN '6-8 tools'
          ELSE '9+ tools'
        END
      ) = '(missing)'
      THEN FALSE
      ELSE (
        CASE
          WHEN a.technologies IS NULL
          THEN '(missing)'
          WHEN COALESCE(ARRAY_SIZE(a.technologies), 0) <= 2
          THEN '0-2 tools'
          WHEN ARRAY_SIZE(a.technologies) <= 5
          THEN '3-5 tools'
          WHEN ARRAY_SIZE(a.technologies) <= 8
          THEN '6-8 tools'
          ELSE '9+ tools'
        END
      ) IN ('3-5 tools')
    END AS m_r4,
    CASE
      WHEN (
        CASE
          WHEN a.founded_year IS NULL OR CAST('2025-10-01' AS DATE) IS NULL
          THEN '(missing)'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 2
          THEN '0-2 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 5
          THEN '3-5 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 10
          THEN '6-10 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 20
          THEN '11-20 years'
          ELSE '21+ years'
        END
      ) = '(missing)'
      THEN FALSE
      ELSE (
        CASE
          WHEN a.founded_year IS NULL OR CAST('2025-10-01' AS DATE) IS NULL
          THEN '(missing)'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 2
          THEN '0-2 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 5
          THEN '3-5 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 10
          THEN '6-10 years'
          WHEN YEAR(CAST('2025-10-01' AS DATE)) - a.founded_year <= 20
          THEN '11-20 years'
          ELSE '21+ years'
        END
      ) IN ('0-2 years', '3-5 years')
    END AS m_r5,
    CASE
      WHEN (
        COALESCE(CAST(a."Time Zone" AS VARCHAR), '(missing)')
      ) = '(missing)'
      THEN FALSE
      ELSE (
        COALESCE(CAST(a."Time Zone" AS VARCHAR), '(missing)')
      ) IN ('Europe/Berlin')
    END AS m_r6,
    COALESCE(a.employees >= 1001, FALSE) AS m_r7,
    COALESCE(
      CASE
        WHEN a.technologies IS NULL
        THEN NULL
        ELSE COALESCE(ARRAY_SIZE(a.technologies), 0)
      END >= 6,
      FALSE
    ) AS m_r8,
    COALESCE(a.employees >= 1 AND a.employees <= 10, FALSE) AS m_r9,
    CASE
      WHEN (
        COALESCE(a.industry, '(missing)')
      ) = '(missing)'
      THEN FALSE
      ELSE (
        COALESCE(a.industry, '(missing)')
      ) IN ('Public Administration')
    END AS m_r10,
    CASE
      WHEN (
        COALESCE(a.industry, '(missing)')
      ) = '(missing)'
      THEN FALSE
      ELSE (
        COALESCE(a.industry, '(missing)')
      ) IN ('Retail Trade')
    END AS m_r11,
    signal_ages.age_r12 AS age_r12,
    signal_ages.age_r13 AS age_r13,
    signal_ages.age_r14 AS age_r14,
    COALESCE(persona_contacts.matches, 0) = 1 AS m_r15,
    COALESCE(a.employees >= 11, TRUE) AS inside_0,
    CASE
      WHEN (
        COALESCE(a.country, '(missing)')
      ) = '(missing)'
      THEN TRUE
      ELSE (
        COALESCE(a.country, '(missing)')
      ) IN ('US', 'GB', 'DE', 'IN')
    END AS inside_1
  FROM crm.accounts AS a
  LEFT JOIN signal_ages
    ON signal_ages.account_key = a.account_key
  LEFT JOIN persona_contacts
    ON persona_contacts.account_key = a.account_key
), points AS (
  SELECT
    *,
    CASE WHEN m_r0 THEN 11 ELSE 0 END AS p_r0,
    CASE WHEN m_r1 THEN 9 ELSE 0 END AS p_r1,
    CASE WHEN m_r2 THEN 6 ELSE 0 END AS p_r2,
    CASE WHEN m_r3 THEN 3 ELSE 0 END AS p_r3,
    CASE WHEN m_r4 THEN 2 ELSE 0 END AS p_r4,
    CASE WHEN m_r5 THEN 4 ELSE 0 END AS p_r5,
    CASE WHEN m_r6 THEN 2 ELSE 0 END AS p_r6,
    CASE WHEN m_r7 THEN -5 ELSE 0 END AS p_r7,
    CASE WHEN m_r8 THEN -3 ELSE 0 END AS p_r8,
    CASE WHEN m_r9 THEN -12 ELSE 0 END AS p_r9,
    CASE WHEN m_r10 THEN -16 ELSE 0 END AS p_r10,
    CASE WHEN m_r11 THEN 0 ELSE 0 END AS p_r11,
    CASE
      WHEN age_r12 IS NULL
      THEN 0
      WHEN age_r12 <= 73
      THEN 10
      WHEN age_r12 <= 102
      THEN 9
      WHEN age_r12 <= 134
      THEN 8
      WHEN age_r12 <= 171
      THEN 7
      WHEN age_r12 <= 215
      THEN 6
      WHEN age_r12 <= 267
      THEN 5
      WHEN age_r12 <= 332
      THEN 4
      WHEN age_r12 <= 420
      THEN 3
      WHEN age_r12 <= 540
      THEN 2
      ELSE 0
    END AS p_r12,
    CASE WHEN age_r13 IS NULL THEN 0 WHEN age_r13 <= 90 THEN 6 ELSE 0 END AS p_r13,
    CASE
      WHEN age_r14 IS NULL
      THEN 0
      WHEN age_r14 <= 1
      THEN 4
      WHEN age_r14 <= 4
      THEN 3
      WHEN age_r14 <= 9
      THEN 2
      WHEN age_r14 <= 21
      THEN 1
      WHEN age_r14 <= 30
      THEN 0
      ELSE 0
    END AS p_r14,
    CASE WHEN m_r15 THEN 5 ELSE 0 END AS p_r15
  FROM matches
), dimensions AS (
  SELECT
    *,
    28 + p_r0 + p_r1 + p_r3 + p_r5 + p_r6 + p_r7 + p_r9 + p_r10 + p_r11 AS firmographic,
    3 + p_r2 + p_r4 + p_r8 AS technographic,
    0 + p_r12 + p_r13 + p_r14 AS behavioral,
    0 + p_r15 AS deal_potential
  FROM points
), scores AS (
  SELECT
    *,
    firmographic + technographic + behavioral + deal_potential AS score,
    CAST(FLOOR(
      CAST(100 * (
        firmographic + technographic + deal_potential
      ) AS DOUBLE) / 73 + 0.5
    ) AS INT) AS fit,
    CAST(FLOOR(CAST(100 * behavioral AS DOUBLE) / 20 + 0.5) AS INT) AS intent,
    m_r9 OR m_r10 OR m_r11 AS is_excluded,
    inside_0 AND inside_1 AS is_inside,
    -1.2 + 1.0 * CASE WHEN m_r0 THEN 1 ELSE 0 END + 0.8 * CASE WHEN m_r1 THEN 1 ELSE 0 END + 0.6 * CASE WHEN m_r2 THEN 1 ELSE 0 END + 0.3 * CASE WHEN m_r3 THEN 1 ELSE 0 END + 0.25 * CASE WHEN m_r4 THEN 1 ELSE 0 END + 0.35 * CASE WHEN m_r5 THEN 1 ELSE 0 END + 0.2 * CASE WHEN m_r6 THEN 1 ELSE 0 END + -0.5 * CASE WHEN m_r7 THEN 1 ELSE 0 END + -0.3 * CASE WHEN m_r8 THEN 1 ELSE 0 END + -1.1 * CASE WHEN m_r9 THEN 1 ELSE 0 END + -1.4 * CASE WHEN m_r10 THEN 1 ELSE 0 END + 0.05 * CASE WHEN m_r11 THEN 1 ELSE 0 END + 0.9 * CASE
      WHEN age_r12 IS NULL
      THEN 0
      ELSE POWER(0.5, CAST(age_r12 - 60 AS DOUBLE) / 180.0)
    END + 0.6 * CASE WHEN age_r13 IS NULL THEN 0 ELSE 1 END + 0.4 * CASE
      WHEN age_r14 IS NULL
      THEN 0
      ELSE POWER(0.5, CAST(age_r14 - 0 AS DOUBLE) / 7.0)
    END + 0.5 * CASE WHEN m_r15 THEN 1 ELSE 0 END AS log_odds
  FROM dimensions
), routing AS (
  SELECT
    *,
    CASE
      WHEN score >= 55
      THEN 'A'
      WHEN score >= 40
      THEN 'B'
      WHEN score >= 25
      THEN 'C'
      ELSE 'D'
    END AS tier,
    CASE
      WHEN is_excluded
      THEN 'never'
      WHEN NOT is_inside
      THEN 'disqualify'
      WHEN fit >= 54 AND intent >= 40
      THEN 'work_now'
      WHEN fit >= 54 AND intent < 40
      THEN 'nurture'
      WHEN fit >= 32 AND fit < 54 AND intent >= 40
      THEN 'nurture'
      WHEN fit >= 32 AND fit < 54 AND intent < 40
      THEN 'automated_nurture'
      WHEN fit < 32 AND intent >= 40
      THEN 'automated_nurture'
      WHEN fit < 32 AND intent < 40
      THEN 'disqualify'
      ELSE 'disqualify'
    END AS route,
    ROUND(1 / (
      1 + EXP(-log_odds)
    ), 4) AS win_probability
  FROM scores
), reasons AS (
  SELECT
    *,
    SUBSTRING(
      CONCAT(
        COALESCE(CONCAT('; ', CASE WHEN m_r0 THEN '51-200 employees (+11)' END), ''),
        COALESCE(
          CONCAT(
            '; ',
            CASE
              WHEN p_r12 <> 0
              THEN CONCAT(
                'Funding round Series A or Series B ',
                COALESCE(CAST(age_r12 AS VARCHAR), ''),
                ' days ago (',
                COALESCE(CASE WHEN p_r12 > 0 THEN '+' ELSE '' END, ''),
                COALESCE(CAST(p_r12 AS VARCHAR), ''),
                ')'
              )
            END
          ),
          ''
        ),
        COALESCE(CONCAT('; ', CASE WHEN m_r1 THEN 'Industry Software (+9)' END), ''),
        COALESCE(CONCAT('; ', CASE WHEN m_r2 THEN 'Uses HubSpot or O\'Reilly Tool (+6)' END), ''),
        COALESCE(
          CONCAT(
            '; ',
            CASE
              WHEN p_r13 <> 0
              THEN CONCAT(
                'Job posting SDR ',
                COALESCE(CAST(age_r13 AS VARCHAR), ''),
                ' days ago (',
                COALESCE(CASE WHEN p_r13 > 0 THEN '+' ELSE '' END, ''),
                COALESCE(CAST(p_r13 AS VARCHAR), ''),
                ')'
              )
            END
          ),
          ''
        ),
        COALESCE(
          CONCAT('; ', CASE WHEN m_r15 THEN 'Has a contact matching the buyer persona (+5)' END),
          ''
        ),
        COALESCE(
          CONCAT(
            '; ',
            CASE
              WHEN p_r14 <> 0
              THEN CONCAT(
                'Web visit ',
                COALESCE(CAST(age_r14 AS VARCHAR), ''),
                ' days ago (',
                COALESCE(CASE WHEN p_r14 > 0 THEN '+' ELSE '' END, ''),
                COALESCE(CAST(p_r14 AS VARCHAR), ''),
                ')'
              )
            END
          ),
          ''
        ),
        COALESCE(
          CONCAT('; ', CASE WHEN m_r5 THEN 'Company age 0-2 years or 3-5 years (+4)' END),
          ''
        ),
        COALESCE(CONCAT('; ', CASE WHEN m_r3 THEN 'Revenue $10M-$50M (+3)' END), ''),
        COALESCE(CONCAT('; ', CASE WHEN m_r4 THEN 'Stack density 3-5 tools (+2)' END), ''),
        COALESCE(CONCAT('; ', CASE WHEN m_r6 THEN 'Time Zone Europe/Berlin (+2)' END), ''),
        ''
      ),
      3
    ) AS top_reasons,
    SUBSTRING(
      CONCAT(
        COALESCE(
          CONCAT('; ', CASE WHEN m_r10 THEN 'Industry Public Administration: excluded (-16)' END),
          ''
        ),
        COALESCE(CONCAT('; ', CASE WHEN m_r9 THEN '1-10 employees: excluded (-12)' END), ''),
        COALESCE(CONCAT('; ', CASE WHEN m_r7 THEN '1001+ employees (-5)' END), ''),
        COALESCE(CONCAT('; ', CASE WHEN m_r8 THEN 'Stack density 6+ (-3)' END), ''),
        COALESCE(
          CONCAT('; ', CASE WHEN m_r11 THEN 'Industry Retail Trade: excluded (customers churn)' END),
          ''
        ),
        COALESCE(
          CONCAT(
            '; ',
            CASE WHEN NOT inside_0 THEN 'Outside the market served (employees-floor)' END
          ),
          ''
        ),
        COALESCE(
          CONCAT('; ', CASE WHEN NOT inside_1 THEN 'Outside the market served (country-served)' END),
          ''
        ),
        ''
      ),
      3
    ) AS negative_reasons
  FROM routing
)
SELECT
  account_key,
  fit,
  intent,
  score,
  firmographic,
  technographic,
  behavioral,
  deal_potential,
  tier,
  route,
  win_probability,
  top_reasons,
  negative_reasons
FROM reasons
