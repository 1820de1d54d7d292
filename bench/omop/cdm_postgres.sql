-- OMOP CDM v5.4 tables that refract screen and the SQL phenotype read (subset of the official
-- PostgreSQL DDL: the same columns, ids as BIGINT, values as DOUBLE PRECISION), for tests and benchmarks.
DROP TABLE IF EXISTS person, observation_period, drug_exposure, condition_occurrence, procedure_occurrence, measurement, observation,
  concept, concept_ancestor, drug_strength, refract_truth CASCADE;
CREATE TABLE person (person_id BIGINT NOT NULL PRIMARY KEY, gender_concept_id BIGINT NOT NULL, year_of_birth INTEGER NOT NULL,
  month_of_birth INTEGER, day_of_birth INTEGER, race_concept_id BIGINT NOT NULL, ethnicity_concept_id BIGINT NOT NULL);
CREATE TABLE observation_period (observation_period_id BIGINT NOT NULL, person_id BIGINT NOT NULL, observation_period_start_date DATE NOT NULL,
  observation_period_end_date DATE NOT NULL, period_type_concept_id BIGINT NOT NULL);
CREATE TABLE drug_exposure (drug_exposure_id BIGINT NOT NULL, person_id BIGINT NOT NULL, drug_concept_id BIGINT NOT NULL,
  drug_exposure_start_date DATE NOT NULL, drug_exposure_end_date DATE, drug_type_concept_id BIGINT NOT NULL, quantity DOUBLE PRECISION,
  days_supply INTEGER);
CREATE TABLE condition_occurrence (condition_occurrence_id BIGINT NOT NULL, person_id BIGINT NOT NULL, condition_concept_id BIGINT NOT NULL,
  condition_start_date DATE NOT NULL, condition_type_concept_id BIGINT NOT NULL);
CREATE TABLE procedure_occurrence (procedure_occurrence_id BIGINT NOT NULL, person_id BIGINT NOT NULL, procedure_concept_id BIGINT NOT NULL,
  procedure_date DATE NOT NULL, procedure_type_concept_id BIGINT NOT NULL);
CREATE TABLE measurement (measurement_id BIGINT NOT NULL, person_id BIGINT NOT NULL, measurement_concept_id BIGINT NOT NULL,
  measurement_date DATE NOT NULL, measurement_type_concept_id BIGINT NOT NULL, value_as_number DOUBLE PRECISION);
CREATE TABLE observation (observation_id BIGINT NOT NULL, person_id BIGINT NOT NULL, observation_concept_id BIGINT NOT NULL,
  observation_date DATE NOT NULL, observation_type_concept_id BIGINT NOT NULL, value_as_number DOUBLE PRECISION);
CREATE TABLE concept (concept_id BIGINT NOT NULL PRIMARY KEY, concept_name VARCHAR(255) NOT NULL, domain_id VARCHAR(20) NOT NULL,
  vocabulary_id VARCHAR(20) NOT NULL, concept_class_id VARCHAR(20) NOT NULL, standard_concept VARCHAR(1), concept_code VARCHAR(50) NOT NULL,
  valid_start_date DATE NOT NULL, valid_end_date DATE NOT NULL, invalid_reason VARCHAR(1));
CREATE TABLE concept_ancestor (ancestor_concept_id BIGINT NOT NULL, descendant_concept_id BIGINT NOT NULL,
  min_levels_of_separation INTEGER NOT NULL, max_levels_of_separation INTEGER NOT NULL);
CREATE TABLE drug_strength (drug_concept_id BIGINT NOT NULL, ingredient_concept_id BIGINT NOT NULL, amount_value DOUBLE PRECISION,
  amount_unit_concept_id BIGINT, numerator_value DOUBLE PRECISION, numerator_unit_concept_id BIGINT, denominator_value DOUBLE PRECISION,
  denominator_unit_concept_id BIGINT, box_size INTEGER, valid_start_date DATE NOT NULL, valid_end_date DATE NOT NULL, invalid_reason VARCHAR(1));
CREATE TABLE refract_truth (person_id BIGINT NOT NULL PRIMARY KEY, scenario VARCHAR(200) NOT NULL, trd_status VARCHAR(20) NOT NULL,
  failed_adequate_trials INTEGER NOT NULL, data_quality VARCHAR(200));
