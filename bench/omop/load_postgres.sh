#!/usr/bin/env bash
# Loads a synthetic OMOP CSV directory (refract synth-omop --out DIR) into PostgreSQL.
#   bench/omop/load_postgres.sh CSV_DIR POSTGRES_URL
set -euo pipefail
export PGOPTIONS="${PGOPTIONS:-} -c client_min_messages=warning"
dir=$1
url=$2
here=$(cd "$(dirname "$0")" && pwd)
psql -q -v ON_ERROR_STOP=1 "$url" -f "$here/cdm_postgres.sql"
for table in person observation_period drug_exposure condition_occurrence procedure_occurrence measurement observation concept \
             concept_ancestor drug_strength refract_truth; do
  psql -q -v ON_ERROR_STOP=1 "$url" -c "\\copy $table FROM '$dir/$table.csv' WITH (FORMAT csv, HEADER true)"
done
psql -q -v ON_ERROR_STOP=1 "$url" <<'SQL'
CREATE INDEX idx_observation_period_person ON observation_period (person_id);
CREATE INDEX idx_drug_exposure_person ON drug_exposure (person_id);
CREATE INDEX idx_condition_person ON condition_occurrence (person_id);
CREATE INDEX idx_procedure_person ON procedure_occurrence (person_id);
CREATE INDEX idx_measurement_person ON measurement (person_id);
CREATE INDEX idx_observation_person ON observation (person_id);
CREATE INDEX idx_concept_code ON concept (vocabulary_id, concept_code);
CREATE INDEX idx_concept_ancestor ON concept_ancestor (ancestor_concept_id);
CREATE INDEX idx_drug_strength_ingredient ON drug_strength (ingredient_concept_id);
ANALYZE;
SQL
