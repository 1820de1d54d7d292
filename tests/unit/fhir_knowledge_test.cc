// SPDX-License-Identifier: Apache-2.0
// kb/fhir: the code maps load without problems and cover the KB's antidepressants and augmenters.
#include <gtest/gtest.h>

#include "../fhir/fhir_test_support.h"

namespace refract {
namespace {

using fhir_testing::Fhir;
using fhir_testing::Kb;

TEST(FhirKnowledge, BuiltInKbHasNoProblems) { EXPECT_TRUE(fhir::CheckFhirKnowledge(Kb()).empty()); }

TEST(FhirKnowledge, ClinicalDrugsResolveToIngredientsOffline) {
  const fhir::RxNormProduct* sertraline = Fhir().FindProduct("312941");
  ASSERT_NE(sertraline, nullptr);
  EXPECT_EQ(sertraline->drug->id, "drug.sertraline");
  EXPECT_EQ(sertraline->strength_mg, 50);
  EXPECT_EQ(sertraline->unit, "tablet");
  // The RxNorm pitfall of the reference notes: 312938 is the 100 mg tablet, 596926 duloxetine 20 mg.
  EXPECT_EQ(Fhir().FindProduct("312938")->strength_mg, 100);
  EXPECT_EQ(Fhir().FindProduct("596926")->drug->id, "drug.duloxetine");
  EXPECT_EQ(Fhir().FindIngredient("36437")->id, "drug.sertraline");
  EXPECT_EQ(Fhir().FindProduct("99999999"), nullptr);
}

TEST(FhirKnowledge, CommonStrengthsOfEveryAntidepressantAndAugmenterWithAnRxNormCode) {
  // Every antidepressant and augmenting agent with an RxNorm ingredient code resolves by that code; the
  // products below are the common strengths the order-entry hooks see most.
  for (const Drug& drug : Kb().drugs()) {
    if (drug.counts_as != CountsAs::Antidepressant && drug.counts_as != CountsAs::Augmentation) continue;
    if (!drug.rxnorm) continue;
    EXPECT_EQ(Fhir().FindIngredient(*drug.rxnorm), &drug) << drug.id;
  }
  const std::vector<std::pair<std::string, std::vector<double>>> expected = {
      {"drug.sertraline", {25, 50, 100}}, {"drug.escitalopram", {5, 10, 20}}, {"drug.citalopram", {10, 20, 40}},
      {"drug.fluoxetine", {10, 20, 40}},   {"drug.paroxetine", {10, 20, 30, 40}}, {"drug.venlafaxine", {37.5, 75, 150}},
      {"drug.duloxetine", {20, 30, 60}},   {"drug.bupropion", {75, 100, 150, 300}}, {"drug.mirtazapine", {15, 30, 45}},
      {"drug.vortioxetine", {5, 10, 20}},  {"drug.aripiprazole", {2, 5, 10, 15}}, {"drug.quetiapine", {25, 50, 100, 150, 200, 300}},
      {"drug.brexpiprazole", {0.5, 1, 2, 3}}, {"drug.cariprazine", {1.5, 3}}, {"drug.lamotrigine", {25, 100, 200}},
      {"drug.nortriptyline", {10, 25, 50, 75}}, {"drug.phenelzine", {15}}, {"drug.tranylcypromine", {10}}, {"drug.lithium", {300}}};
  for (const auto& [drug_id, strengths] : expected) {
    for (const double strength : strengths) {
      bool found = false;
      // Search the product map through the public lookup: every listed RxCUI of the drug's file.
      for (const auto& [path, json] : Kb().FilesOfKind("fhir_rxnorm_products")) {
        if ((*json)["drug"] != drug_id) continue;
        for (const auto& product : (*json)["products"]) {
          const auto* found_product = Fhir().FindProduct(product["rxcui"].get<std::string>());
          if (found_product != nullptr && found_product->strength_mg == strength) found = true;
        }
      }
      EXPECT_TRUE(found) << drug_id << " " << strength << " mg";
    }
  }
}

TEST(FhirKnowledge, ValueSetsMatchExactCodesThenLongestPrefix) {
  const std::string icd = std::string(fhir::kIcd10Cm);
  ASSERT_NE(Fhir().FindCode("Condition", icd, "F33.1"), nullptr);
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F33.1")->value, "mdd");
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F331")->value, "mdd");
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F32.81"), nullptr);
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F31.81")->value, "bipolar_ii");
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F31.32")->value, "bipolar_i");
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F31.9")->list, "history");
  EXPECT_EQ(Fhir().FindCode("Condition", icd, "F320"), Fhir().FindCode("Condition", icd, "F32.0"));
  EXPECT_EQ(Fhir().FindCode("Procedure", std::string(fhir::kSnomed), "23835007")->value, "ect");
  EXPECT_EQ(Fhir().FindCode("Observation", std::string(fhir::kLoinc), "14334-7")->value, "lithium_level");
  EXPECT_EQ(Fhir().FindCode("Observation", std::string(fhir::kLoinc), "8480-6")->component, "systolic");
  EXPECT_EQ(Fhir().AnswerScore("scale.phq9", "9", std::string(fhir::kLoinc), "LA6570-1"), 2);
  EXPECT_EQ(Fhir().AnswerScore("scale.phq9", "10", std::string(fhir::kLoinc), "LA6570-1"), std::nullopt);
}

}  // namespace
}  // namespace refract
