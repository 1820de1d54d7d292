-- refract's TRD phenotype written as SQL, the way OHDSI tools run a cohort definition: one
-- statement over the CDM tables, rendered for the site's dialect by a template step (as SqlRender
-- does). bench/omop/run_sql_phenotype.py renders it for PostgreSQL or SQLite:
--   {DAYS(x)}       a DATE column as an integer day number
--   {ROUND(x)}      round to an integer, half away from zero (as std::round)
--   @name           a parameter from the KB (rule.omop.reconstruction, criteria, TRD definition)
-- and creates refract_drug (KB drug catalogue: vocabulary, code, drug_id, counts_as, min_dose,
-- required_days, max_dose) beforehand. Eight statements, as OHDSI cohort SQL materialises its steps in
-- tables: refract_sql_exposure, _course_no, _episode, _course_span, _course, _dose_step, _trial, then refract_sql_result(person_id, trd_status,
-- failed_adequate_trials), one row per person.
--
-- Known simplifications against the engine (documented in docs/omop.md): a new dose step starts when
-- the daily dose differs by at least @step_pct % from the previous fill's (the engine compares with the
-- step in force); fixed-dose combination products, id-only concept entries, patches and
-- concentrations are not handled; Thase & Rush, European, Maudsley and MGH staging are not computed.
CREATE TABLE refract_sql_exposure AS
WITH
as_of AS (
  SELECT p.person_id, MAX({DAYS(op.observation_period_end_date)}) AS as_of
  FROM person p JOIN observation_period op ON op.person_id = p.person_id
  GROUP BY p.person_id
),
ingredient AS (
  SELECT c.concept_id, d.drug_id, d.counts_as, d.min_dose, d.required_days, d.max_dose
  FROM concept c JOIN refract_drug d ON d.vocabulary = c.vocabulary_id AND d.code = c.concept_code
),
unit_mg AS (
  SELECT c.concept_id, CASE c.concept_code WHEN 'mg' THEN 1.0 WHEN 'g' THEN 1000.0 ELSE 0.001 END AS factor
  FROM concept c WHERE c.vocabulary_id = 'UCUM' AND c.concept_code IN ('mg', 'g', 'ug')
),
drug_map AS (
  SELECT DISTINCT m.drug_concept_id, i.concept_id AS ingredient_id, i.drug_id, i.counts_as, i.min_dose, i.required_days, i.max_dose
  FROM (SELECT ancestor_concept_id AS ingredient_id, descendant_concept_id AS drug_concept_id FROM concept_ancestor
        UNION SELECT ingredient_concept_id, drug_concept_id FROM drug_strength) m
  JOIN ingredient i ON i.concept_id = m.ingredient_id
),
strength AS (
  SELECT ds.drug_concept_id, ds.ingredient_concept_id, ds.amount_value * u.factor AS mg_per_unit
  FROM drug_strength ds JOIN unit_mg u ON u.concept_id = ds.amount_unit_concept_id
  WHERE ds.amount_value > 0
),
exposure AS (
  SELECT de.person_id, de.drug_exposure_id, m.drug_id, m.counts_as, m.min_dose, m.required_days, a.as_of,
         {DAYS(de.drug_exposure_start_date)} AS s,
         CASE WHEN de.drug_exposure_end_date IS NOT NULL AND {DAYS(de.drug_exposure_end_date)} >= {DAYS(de.drug_exposure_start_date)}
                THEN {DAYS(de.drug_exposure_end_date)}
              WHEN de.days_supply > 0 THEN {DAYS(de.drug_exposure_start_date)} + de.days_supply
              ELSE {DAYS(de.drug_exposure_start_date)} + @default_days END AS e,
         CASE WHEN m.counts_as = 'interventional' OR m.min_dose IS NULL THEN NULL
              WHEN st.mg_per_unit IS NULL OR de.quantity IS NULL OR de.quantity <= 0 OR de.days_supply IS NULL OR de.days_supply <= 0 THEN NULL
              WHEN de.quantity * st.mg_per_unit / de.days_supply > m.max_dose * @implausible_factor THEN NULL
              ELSE {ROUND(1000.0 * de.quantity * st.mg_per_unit / de.days_supply)} / 1000.0 END AS dose
  FROM drug_exposure de
  JOIN drug_map m ON m.drug_concept_id = de.drug_concept_id
  JOIN as_of a ON a.person_id = de.person_id
  LEFT JOIN strength st ON st.drug_concept_id = de.drug_concept_id AND st.ingredient_concept_id = m.ingredient_id
  WHERE {DAYS(de.drug_exposure_start_date)} <= a.as_of
)
SELECT * FROM exposure;

-- Statement 2: courses (gaps of at most @gap days).
CREATE TABLE refract_sql_course_no AS
WITH
-- Courses: exposures of one drug with at most @gap drug-free days between them.
course_mark AS (
  SELECT x.*, CASE WHEN x.s - 1 - MAX(x.e) OVER (PARTITION BY x.person_id, x.drug_id ORDER BY x.s, x.drug_exposure_id
                                                  ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) <= @gap THEN 0 ELSE 1 END AS new_course
  FROM refract_sql_exposure x WHERE x.counts_as IN ('antidepressant', 'augmentation') AND x.min_dose IS NOT NULL
)
,
course_no AS (
  SELECT c.*, SUM(c.new_course) OVER (PARTITION BY c.person_id, c.drug_id ORDER BY c.s, c.drug_exposure_id ROWS UNBOUNDED PRECEDING) AS course
  FROM course_mark c
)
SELECT * FROM course_no;

-- Statement 3: depressive episodes (diagnoses and antidepressant exposures; a new one after @free_days clean days).
CREATE TABLE refract_sql_episode AS
WITH
as_of AS (
  SELECT p.person_id, MAX({DAYS(op.observation_period_end_date)}) AS as_of
  FROM person p JOIN observation_period op ON op.person_id = p.person_id
  GROUP BY p.person_id
),
-- Depressive episodes: depression diagnoses and antidepressant exposures; a new one after @free_days clean days.
depression_concept AS (
  SELECT ca.descendant_concept_id AS concept_id FROM concept_ancestor ca JOIN concept c ON c.concept_id = ca.ancestor_concept_id
  WHERE c.vocabulary_id = 'SNOMED' AND c.concept_code IN (@depression_codes)
  EXCEPT
  SELECT ca.descendant_concept_id FROM concept_ancestor ca JOIN concept c ON c.concept_id = ca.ancestor_concept_id
  WHERE c.vocabulary_id = 'SNOMED' AND c.concept_code IN (@depression_excluded_codes)
),
episode_event AS (
  SELECT x.person_id, x.s, x.e, x.as_of FROM refract_sql_exposure x WHERE x.counts_as = 'antidepressant'
  UNION ALL
  SELECT co.person_id, {DAYS(co.condition_start_date)}, {DAYS(co.condition_start_date)}, a.as_of
  FROM condition_occurrence co JOIN as_of a ON a.person_id = co.person_id
  WHERE co.condition_concept_id IN (SELECT concept_id FROM depression_concept) AND {DAYS(co.condition_start_date)} <= a.as_of
),
episode_mark AS (
  SELECT v.person_id, v.s, CASE WHEN v.s - 1 - MAX(v.e) OVER (PARTITION BY v.person_id ORDER BY v.s, v.e ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING)
                              < @free_days THEN 0 ELSE 1 END AS new_episode
  FROM episode_event v
),
episode AS (
  SELECT person_id, MAX(s) AS episode_start FROM episode_mark WHERE new_episode = 1 GROUP BY person_id
)
SELECT * FROM episode;

-- Statement 4: course spans (first start, last end, last day counted).
CREATE TABLE refract_sql_course_span AS
WITH
course AS (
  SELECT person_id, drug_id, course, MIN(counts_as) AS counts_as, MIN(min_dose) AS min_dose, MIN(required_days) AS required_days,
         MIN(as_of) AS as_of, MIN(s) AS c_start, MAX(e) AS c_end,
         CASE WHEN MAX(e) >= MIN(as_of) THEN MIN(as_of) ELSE MAX(e) END AS last_day
  FROM refract_sql_course_no GROUP BY person_id, drug_id, course
)
SELECT * FROM course;

-- Statement 5: coverage and episode placement per course.
CREATE TABLE refract_sql_course AS
WITH
-- Proportion of days covered: islands of overlapping fills, clipped to the course's last day.
cover_mark AS (
  SELECT n.person_id, n.drug_id, n.course, n.s, CASE WHEN n.e < k.last_day THEN n.e ELSE k.last_day END AS ce,
         CASE WHEN n.s <= MAX(CASE WHEN n.e < k.last_day THEN n.e ELSE k.last_day END) OVER (PARTITION BY n.person_id, n.drug_id, n.course
                 ORDER BY n.s, n.drug_exposure_id ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING) THEN 0 ELSE 1 END AS new_run,
         n.drug_exposure_id
  FROM refract_sql_course_no n JOIN refract_sql_course_span k ON k.person_id = n.person_id AND k.drug_id = n.drug_id AND k.course = n.course
  WHERE n.s <= k.last_day
)
,
cover_run AS (
  SELECT c.*, SUM(c.new_run) OVER (PARTITION BY c.person_id, c.drug_id, c.course ORDER BY c.s, c.drug_exposure_id ROWS UNBOUNDED PRECEDING) AS run
  FROM cover_mark c
)
,
cover AS (
  SELECT person_id, drug_id, course, SUM(run_days) AS covered
  FROM (SELECT person_id, drug_id, course, run, MAX(ce) - MIN(s) + 1 AS run_days FROM cover_run GROUP BY person_id, drug_id, course, run) r
  GROUP BY person_id, drug_id, course
)
,
trial AS (
  SELECT k.*, cv.covered, e.episode_start,
         CASE WHEN e.episode_start IS NOT NULL AND k.last_day < e.episode_start THEN 0 ELSE 1 END AS current_episode,
         CASE WHEN e.episode_start IS NOT NULL AND k.last_day >= e.episode_start AND k.c_start < e.episode_start THEN e.episode_start
              ELSE k.c_start END AS window_start,
         {ROUND(1000.0 * cv.covered / (k.last_day - k.c_start + 1))} / 10.0 AS pdc,
         CASE WHEN k.c_end >= k.as_of THEN 1 ELSE 0 END AS ongoing
  FROM refract_sql_course_span k JOIN cover cv ON cv.person_id = k.person_id AND cv.drug_id = k.drug_id AND cv.course = k.course
  LEFT JOIN refract_sql_episode e ON e.person_id = k.person_id
)
SELECT * FROM trial;

-- Statement 6: dose steps (fills of one day add up; a day with an unknown dose keeps the step in force).
CREATE TABLE refract_sql_dose_step AS
WITH
-- Dose steps: fills of one day add up; a day with any unknown dose keeps the step in force.
dose_day AS (
  SELECT person_id, drug_id, course, s, SUM(dose) AS total, COUNT(*) - COUNT(dose) AS unknown
  FROM refract_sql_course_no GROUP BY person_id, drug_id, course, s
)
,
dose_known AS (
  SELECT d.*, LAG(d.total) OVER (PARTITION BY d.person_id, d.drug_id, d.course ORDER BY d.s) AS previous
  FROM dose_day d WHERE d.unknown = 0
)
,
dose_step AS (
  SELECT k.*, LEAD(k.s) OVER (PARTITION BY k.person_id, k.drug_id, k.course ORDER BY k.s) AS next_from
  FROM dose_known k
  WHERE k.previous IS NULL OR ABS(k.total - k.previous) * 100 >= @step_pct * k.previous
)

SELECT * FROM dose_step;

-- Statement 7: adequacy per course.
CREATE TABLE refract_sql_trial AS
WITH
trial_dose AS (
  SELECT t.person_id, t.drug_id, t.course, COUNT(ds.s) AS steps, MAX(ds.total) AS highest,
         SUM(CASE WHEN ds.total >= t.min_dose THEN
               CASE WHEN (CASE WHEN ds.next_from IS NOT NULL AND ds.next_from - 1 < t.last_day THEN ds.next_from - 1 ELSE t.last_day END)
                         >= (CASE WHEN ds.s > t.window_start THEN ds.s ELSE t.window_start END)
                    THEN (CASE WHEN ds.next_from IS NOT NULL AND ds.next_from - 1 < t.last_day THEN ds.next_from - 1 ELSE t.last_day END)
                         - (CASE WHEN ds.s > t.window_start THEN ds.s ELSE t.window_start END) + 1
                    ELSE 0 END
             ELSE 0 END) AS adequate_days
  FROM refract_sql_course t LEFT JOIN refract_sql_dose_step ds ON ds.person_id = t.person_id AND ds.drug_id = t.drug_id AND ds.course = t.course
  GROUP BY t.person_id, t.drug_id, t.course
)
,
trial_verdict AS (
  SELECT t.person_id, t.drug_id, t.course, t.counts_as, t.current_episode, t.c_start, t.last_day,
         CASE WHEN t.pdc < @adherence_min THEN 'inadequate'
              WHEN d.steps = 0 AND t.last_day - t.window_start + 1 < t.required_days AND t.ongoing = 0 THEN 'inadequate'
              WHEN d.steps = 0 THEN 'indeterminate'
              WHEN d.highest < t.min_dose AND t.ongoing = 0 THEN 'inadequate'
              WHEN d.adequate_days < t.required_days AND t.ongoing = 0 THEN 'inadequate'
              WHEN d.highest < t.min_dose OR d.adequate_days < t.required_days THEN 'indeterminate'
              ELSE 'adequate' END AS adequacy
  FROM refract_sql_course t JOIN trial_dose d ON d.person_id = t.person_id AND d.drug_id = t.drug_id AND d.course = t.course
)
SELECT * FROM trial_verdict;

-- Statement 8: outcomes, failures and TRD status per person.
CREATE TABLE refract_sql_result AS
WITH
as_of AS (
  SELECT p.person_id, MAX({DAYS(op.observation_period_end_date)}) AS as_of
  FROM person p JOIN observation_period op ON op.person_id = p.person_id
  GROUP BY p.person_id
),
excluded_person AS (
  SELECT DISTINCT co.person_id FROM condition_occurrence co
  JOIN concept_ancestor ca ON ca.descendant_concept_id = co.condition_concept_id
  JOIN concept c ON c.concept_id = ca.ancestor_concept_id
  JOIN as_of a ON a.person_id = co.person_id
  WHERE c.vocabulary_id = 'SNOMED' AND c.concept_code IN (@bipolar_codes) AND {DAYS(co.condition_start_date)} <= a.as_of
),
-- Treatment steps that follow a course: other courses, ECT/TMS courses and esketamine sessions.
procedure_day AS (
  SELECT DISTINCT po.person_id, 'procedure' AS kind, {DAYS(po.procedure_date)} AS d
  FROM procedure_occurrence po JOIN concept_ancestor ca ON ca.descendant_concept_id = po.procedure_concept_id
  JOIN concept c ON c.concept_id = ca.ancestor_concept_id
  JOIN as_of a ON a.person_id = po.person_id
  WHERE ((c.vocabulary_id = 'SNOMED' AND c.concept_code = '23835007') OR (c.vocabulary_id = 'CPT4' AND c.concept_code IN ('90870', '90867', '90868', '90869'))
         OR (c.vocabulary_id = 'ICD10PCS' AND c.concept_code = 'GZB')) AND {DAYS(po.procedure_date)} <= a.as_of
  UNION
  SELECT DISTINCT x.person_id, x.drug_id, x.s FROM refract_sql_exposure x WHERE x.counts_as = 'interventional'
),
procedure_start AS (
  SELECT person_id, kind, d FROM (
    SELECT p.*, LAG(p.d) OVER (PARTITION BY p.person_id, p.kind ORDER BY p.d) AS previous FROM procedure_day p) q
  WHERE previous IS NULL OR d - previous - 1 > @procedure_gap
),
step AS (
  SELECT person_id, drug_id AS kind, c_start AS d FROM refract_sql_trial
  UNION ALL SELECT person_id, kind, d FROM procedure_start
),
phq9 AS (
  SELECT person_id, {DAYS(measurement_date)} AS d, value_as_number AS v FROM measurement
  WHERE measurement_concept_id IN (SELECT concept_id FROM concept WHERE vocabulary_id = 'LOINC' AND concept_code = '44261-6')
    AND value_as_number >= 0 AND value_as_number <= @phq9_max
  UNION ALL
  SELECT person_id, {DAYS(observation_date)}, value_as_number FROM observation
  WHERE observation_concept_id IN (SELECT concept_id FROM concept WHERE vocabulary_id = 'LOINC' AND concept_code = '44261-6')
    AND value_as_number >= 0 AND value_as_number <= @phq9_max
),
trial_next AS (
  SELECT v.person_id, v.drug_id, v.course, MIN(st.d) AS next_step
  FROM refract_sql_trial v JOIN step st ON st.person_id = v.person_id AND st.kind <> v.drug_id AND st.d > v.c_start
    AND st.d >= v.c_start + @switch_window AND st.d <= v.last_day + @switch_window
  WHERE v.counts_as = 'antidepressant' AND v.current_episode = 1
  GROUP BY v.person_id, v.drug_id, v.course
),
trial_baseline AS (
  SELECT * FROM (
    SELECT v.person_id, v.drug_id, v.course, b.v, b.d,
           ROW_NUMBER() OVER (PARTITION BY v.person_id, v.drug_id, v.course ORDER BY b.d DESC, b.v DESC) AS rank_in_window
    FROM refract_sql_trial v JOIN phq9 b ON b.person_id = v.person_id AND b.d BETWEEN v.c_start - @phq9_before AND v.c_start + @phq9_after
    WHERE v.counts_as = 'antidepressant' AND v.current_episode = 1) q
  WHERE rank_in_window = 1
),
trial_followup AS (
  SELECT * FROM (
    SELECT v.person_id, v.drug_id, v.course, f.v, f.d,
           ROW_NUMBER() OVER (PARTITION BY v.person_id, v.drug_id, v.course ORDER BY f.d DESC, f.v DESC) AS rank_in_window
    FROM refract_sql_trial v JOIN phq9 f ON f.person_id = v.person_id AND f.d BETWEEN v.c_start + @phq9_followup_min AND v.last_day + @phq9_followup_after
    WHERE v.counts_as = 'antidepressant' AND v.current_episode = 1) q
  WHERE rank_in_window = 1
),
trial_outcome AS (
  SELECT v.*, n.next_step, b.v AS baseline, b.d AS baseline_day, f.v AS followup, f.d AS followup_day
  FROM refract_sql_trial v
  LEFT JOIN trial_next n ON n.person_id = v.person_id AND n.drug_id = v.drug_id AND n.course = v.course
  LEFT JOIN trial_baseline b ON b.person_id = v.person_id AND b.drug_id = v.drug_id AND b.course = v.course
  LEFT JOIN trial_followup f ON f.person_id = v.person_id AND f.drug_id = v.drug_id AND f.course = v.course
  WHERE v.counts_as = 'antidepressant' AND v.current_episode = 1
),
trial_failed AS (
  SELECT o.person_id, o.drug_id,
         CASE WHEN o.adequacy = 'inadequate' THEN 0
              WHEN o.baseline > 0 AND o.followup_day > o.baseline_day THEN
                CASE WHEN {ROUND(1000.0 * (o.baseline - o.followup) / o.baseline)} / 10.0 < @failure_percent
                     THEN (CASE WHEN o.adequacy = 'adequate' THEN 1 ELSE NULL END) ELSE 0 END
              WHEN o.next_step IS NOT NULL THEN (CASE WHEN o.adequacy = 'adequate' THEN 1 ELSE NULL END)
              ELSE NULL END AS failed
  FROM trial_outcome o
),
failed_drug AS (
  SELECT f.*, MAX(CASE WHEN f.failed = 1 THEN 1 ELSE 0 END) OVER (PARTITION BY f.person_id, f.drug_id) AS drug_failed
  FROM trial_failed f
),
person_trd AS (
  SELECT person_id,
         COUNT(DISTINCT CASE WHEN failed = 1 THEN drug_id END) AS failed_drugs,
         COUNT(DISTINCT CASE WHEN failed IS NULL AND drug_failed = 0 THEN drug_id END) AS undecided_drugs
  FROM failed_drug GROUP BY person_id
)
SELECT p.person_id,
       CASE WHEN x.person_id IS NOT NULL THEN 'not_applicable'
            WHEN COALESCE(t.failed_drugs, 0) >= @min_failed THEN 'meets'
            WHEN COALESCE(t.failed_drugs, 0) + COALESCE(t.undecided_drugs, 0) >= @min_failed THEN 'indeterminate'
            ELSE 'does_not_meet' END AS trd_status,
       COALESCE(t.failed_drugs, 0) AS failed_adequate_trials
FROM person p
LEFT JOIN person_trd t ON t.person_id = p.person_id
LEFT JOIN excluded_person x ON x.person_id = p.person_id;
