// SPDX-License-Identifier: Apache-2.0
/// Reading a GRCh38 VCF (plain or bgzip-compressed, one or many samples) with htslib and calling
/// CYP2C19 and CYP2B6 star alleles in every sample with the core's named-allele matcher.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "refract/core/pgx.h"
#include "refract/core/result.h"

namespace refract::vcf {

/// Which samples to call.
struct VcfOptions {
  std::string sample;  ///< Empty: every sample in the file.
};

/// The calls of one sample, one per VCF-callable gene, sorted by gene.
struct SampleCalls {
  std::string sample;
  std::vector<AlleleCall> calls;
};

/// Every sample's calls and what the reader noticed about the file.
struct VcfCallReport {
  std::string path;
  std::vector<std::string> genes;          ///< Genes called from the VCF.
  std::vector<std::string> not_called;     ///< Genes never called from VCF (CYP2D6), with a finding each.
  std::vector<SampleCalls> samples;        ///< In file order.
  std::vector<Finding> findings;           ///< File level: REF mismatches, skipped records, CYP2D6.
  std::uint64_t records = 0;               ///< Data lines read.
  std::uint64_t records_used = 0;          ///< At a definition position.
};

/// Per-sample genotypes at every definition position, read from one VCF.
struct VcfGenotypes {
  std::string path;
  std::vector<std::string> samples;
  /// Per gene (same order as `matchers`): samples × positions, sample-major. Missing = zero masks.
  std::vector<std::vector<PositionGenotype>> by_gene;
  std::vector<AlleleMatcher> matchers;
  std::vector<Finding> findings;
  std::uint64_t records = 0;
  std::uint64_t records_used = 0;
};

/// Reads genotypes at the CPIC definition positions of every VCF-callable gene.
///
/// Positions absent from the file stay missing (never reference). Records at other positions are
/// skipped; a REF that differs from GRCh38 makes that position missing, with a finding that asks
/// whether the file is GRCh38. Fails with Io when the file cannot be opened, and InvalidInput
/// ("FILE:LINE: ...") for a file that is not a VCF, a malformed header or record, no sample
/// columns, or an unknown --sample.
[[nodiscard]] Result<VcfGenotypes> ReadVcfGenotypes(const PgxKnowledge& knowledge, const std::filesystem::path& path, const VcfOptions& options);

/// Calls every sample of genotypes already read.
[[nodiscard]] VcfCallReport CallSamples(const PgxKnowledge& knowledge, const VcfGenotypes& genotypes);

/// ReadVcfGenotypes followed by CallSamples.
[[nodiscard]] Result<VcfCallReport> CallVcf(const PgxKnowledge& knowledge, const std::filesystem::path& path, const VcfOptions& options);

/// JSON form of the calls (refract.pgx_vcf/v1), with engine and KB identity.
[[nodiscard]] nlohmann::json VcfCallsToJson(const VcfCallReport& report, const PgxKnowledge& knowledge, const KnowledgeBase& kb,
                                            const EngineInfo& engine);
/// One block per sample for a terminal.
[[nodiscard]] std::string VcfCallsToText(const VcfCallReport& report, const PgxKnowledge& knowledge, const KnowledgeBase& kb,
                                         const EngineInfo& engine);
/// One row per (sample, gene), tab-separated, with a header row.
[[nodiscard]] std::string VcfCallsToTsv(const VcfCallReport& report);

}  // namespace refract::vcf
