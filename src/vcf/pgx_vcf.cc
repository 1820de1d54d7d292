// SPDX-License-Identifier: Apache-2.0
// VCF → per-position genotypes (htslib) → star-allele calls per sample (core matcher).
#include "refract/vcf/pgx_vcf.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <unordered_map>

#include <fmt/format.h>
#include <htslib/hts.h>
#include <htslib/hts_log.h>
#include <htslib/vcf.h>

namespace refract::vcf {

namespace {

struct FileCloser {
  void operator()(htsFile* file) const { hts_close(file); }
};
struct HeaderFree {
  void operator()(bcf_hdr_t* header) const { bcf_hdr_destroy(header); }
};
struct RecordFree {
  void operator()(bcf1_t* record) const { bcf_destroy(record); }
};
// htslib grows this buffer with realloc; it is released with free.
struct GenotypeBuffer {
  int32_t* data = nullptr;
  int capacity = 0;
  GenotypeBuffer() = default;
  GenotypeBuffer(const GenotypeBuffer&) = delete;
  GenotypeBuffer& operator=(const GenotypeBuffer&) = delete;
  ~GenotypeBuffer() { free(data); }
};

std::string ChromosomeKey(std::string_view name) {
  if (name.size() > 3 && (name.substr(0, 3) == "chr" || name.substr(0, 3) == "CHR" || name.substr(0, 3) == "Chr")) name.remove_prefix(3);
  return std::string(name);
}

std::vector<std::string> Split(const std::string& text, char separator) {
  std::vector<std::string> out;
  std::size_t begin = 0;
  while (true) {
    const std::size_t end = text.find(separator, begin);
    out.push_back(text.substr(begin, end == std::string::npos ? std::string::npos : end - begin));
    if (end == std::string::npos) return out;
    begin = end + 1;
  }
}

bool AllDigits(const std::string& text) {
  return !text.empty() && std::all_of(text.begin(), text.end(), [](char character) { return std::isdigit(static_cast<unsigned char>(character)) != 0; });
}

// htslib splits the line it parsed in place (tabs become NULs); put the tabs back to explain the error.
std::string RestoredLine(const htsFile* file) {
  if (file->line.s == nullptr) return {};
  std::string line(file->line.s, file->line.l);
  std::replace(line.begin(), line.end(), '\0', '\t');
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  return line;
}

// The first thing wrong with a data line, in words; empty when nothing obvious is.
std::string DiagnoseRecord(const std::string& line, int samples) {
  const auto fields = Split(line, '\t');
  if (fields.size() < 8) return fmt::format("expected at least 8 tab-separated columns, found {}", fields.size());
  if (samples > 0 && fields.size() != static_cast<std::size_t>(9 + samples)) {
    return fmt::format("expected {} tab-separated columns (9 + {} sample{}), found {}", 9 + samples, samples, samples == 1 ? "" : "s", fields.size());
  }
  if (!AllDigits(fields[1]) || std::stoull(fields[1].size() > 18 ? std::string("0") : fields[1]) == 0) {
    return fmt::format("POS \"{}\" is not a positive integer", fields[1]);
  }
  if (fields[3].empty() || fields[3].find_first_not_of("ACGTNacgtn") != std::string::npos) {
    return fmt::format("REF \"{}\" is not a sequence of bases", fields[3]);
  }
  if (samples == 0) return {};
  const auto format = Split(fields[8], ':');
  const auto gt = std::find(format.begin(), format.end(), "GT");
  if (gt == format.end()) return {};
  const auto gt_idx = static_cast<std::size_t>(gt - format.begin());
  const std::size_t alleles = fields[4] == "." ? 1 : Split(fields[4], ',').size() + 1;
  for (std::size_t sample_idx = 0; sample_idx < static_cast<std::size_t>(samples); ++sample_idx) {
    const auto values = Split(fields[9 + sample_idx], ':');
    if (gt_idx >= values.size()) continue;
    const std::string& value = values[gt_idx];
    std::string token;
    bool valid = !value.empty();
    for (std::size_t index = 0; index <= value.size() && valid; ++index) {
      if (index == value.size() || value[index] == '/' || value[index] == '|') {
        valid = token == "." || (AllDigits(token) && token.size() < 6 && std::stoul(token) < alleles);
        token.clear();
        continue;
      }
      token.push_back(value[index]);
    }
    if (!valid) return fmt::format("genotype \"{}\" in sample column {} is not a valid GT for {} allele{}", value, sample_idx + 1, alleles, alleles == 1 ? "" : "s");
  }
  return {};
}

Error RecordError(const std::string& path, const htsFile* file, std::uint64_t records, int samples, std::string_view fallback) {
  const bool text = file->format.format == ::vcf;
  std::string reason = text ? DiagnoseRecord(RestoredLine(file), samples) : std::string();
  if (reason.empty()) reason = std::string(fallback);
  const std::string where = text ? fmt::format("{}:{}", path, file->lineno) : fmt::format("{}: record {}", path, records + 1);
  return Error{ErrorCode::InvalidInput, fmt::format("{}: malformed VCF record: {}", where, reason), where};
}

// Merges a second record at the same position (split multi-allelic sites): an ALT seen wins over REF.
void Merge(PositionGenotype& into, const PositionGenotype& from, BaseMask reference) {
  if (into.first == 0 && into.second == 0) {
    into = from;
    return;
  }
  if (from.first != 0 && from.first != reference) into.first = from.first;
  if (from.second != 0 && from.second != reference) into.second = from.second;
  into.phased = into.phased && from.phased;
}

}  // namespace

Result<VcfGenotypes> ReadVcfGenotypes(const PgxKnowledge& knowledge, const std::filesystem::path& path_in, const VcfOptions& options) {
  const std::string path = path_in.string();
  VcfGenotypes out;
  out.path = path;
  for (const PgxGeneInfo& gene : knowledge.genes) {
    if (!gene.vcf_callable) continue;
    auto matcher = AlleleMatcher::Build(knowledge, gene.gene);
    if (!matcher) return tl::unexpected<Error>(matcher.error());
    out.matchers.push_back(std::move(*matcher));
  }
  // Definition positions by (chromosome, position).
  struct Site {
    std::size_t gene = 0;
    std::size_t position = 0;
  };
  std::vector<std::string> chromosomes;
  std::unordered_map<std::uint64_t, Site> sites;
  for (std::size_t gene_idx = 0; gene_idx < out.matchers.size(); ++gene_idx) {
    const PgxDefinition& definition = out.matchers[gene_idx].definition();
    const std::string key = ChromosomeKey(definition.chromosome);
    auto found = std::find(chromosomes.begin(), chromosomes.end(), key);
    if (found == chromosomes.end()) found = chromosomes.insert(chromosomes.end(), key);
    const auto code = static_cast<std::uint64_t>(found - chromosomes.begin());
    for (std::size_t position_idx = 0; position_idx < definition.positions.size(); ++position_idx) {
      sites[(code << 32) | definition.positions[position_idx].position] = Site{gene_idx, position_idx};
    }
  }

  hts_set_log_level(HTS_LOG_OFF);
  errno = 0;
  std::unique_ptr<htsFile, FileCloser> file(hts_open(path.c_str(), "r"));
  if (!file) return Fail(ErrorCode::Io, fmt::format("cannot open {}: {}", path, errno != 0 ? std::strerror(errno) : "unknown error"), path);
  const htsFormat* format = hts_get_format(file.get());
  if (format == nullptr || format->category != variant_data) {
    return Fail(ErrorCode::InvalidInput, fmt::format("{}: not a VCF file (expected a ##fileformat=VCF header; plain or bgzip-compressed)", path), path);
  }
  std::unique_ptr<bcf_hdr_t, HeaderFree> header(bcf_hdr_read(file.get()));
  if (!header) {
    const std::string where = fmt::format("{}:{}", path, std::max<std::int64_t>(file->lineno, 1));
    return Fail(ErrorCode::InvalidInput, fmt::format("{}: malformed VCF header (expected ##fileformat, meta-information lines and a #CHROM line)", where),
                where);
  }
  const int all_samples = bcf_hdr_nsamples(header.get());
  if (all_samples == 0) return Fail(ErrorCode::InvalidInput, fmt::format("{}: the VCF has no sample columns", path), path);
  if (!options.sample.empty()) {
    if (bcf_hdr_id2int(header.get(), BCF_DT_SAMPLE, options.sample.c_str()) < 0) {
      std::string listed;
      for (int sample_idx = 0; sample_idx < std::min(all_samples, 5); ++sample_idx) {
        listed += fmt::format("{}{}", sample_idx == 0 ? "" : ", ", header->samples[sample_idx]);
      }
      if (all_samples > 5) listed += fmt::format(" and {} more", all_samples - 5);
      return Fail(ErrorCode::InvalidInput, fmt::format("sample \"{}\" is not in {} (samples: {})", options.sample, path, listed), "--sample");
    }
    if (bcf_hdr_set_samples(header.get(), options.sample.c_str(), 0) != 0) {
      return Fail(ErrorCode::InvalidInput, fmt::format("cannot select sample \"{}\" in {}", options.sample, path), "--sample");
    }
  }
  const int samples = bcf_hdr_nsamples(header.get());
  for (int sample_idx = 0; sample_idx < samples; ++sample_idx) out.samples.emplace_back(header->samples[sample_idx]);
  for (const AlleleMatcher& matcher : out.matchers) {
    out.by_gene.emplace_back(static_cast<std::size_t>(samples) * matcher.definition().positions.size());
  }

  std::unique_ptr<bcf1_t, RecordFree> record(bcf_init());
  std::vector<int> chromosome_of_rid;
  GenotypeBuffer buffer;
  std::vector<std::string> ref_mismatches;
  std::vector<std::string> skipped;
  std::uint64_t not_diploid = 0;
  std::uint64_t no_gt = 0;
  int status = 0;
  // Definition positions a record covered; a position never seen stays missing in every sample.
  while ((status = bcf_read(file.get(), header.get(), record.get())) == 0) {
    ++out.records;
    constexpr int kFatal = BCF_ERR_NCOLS | BCF_ERR_LIMITS | BCF_ERR_CHAR | BCF_ERR_CTG_INVALID | BCF_ERR_TAG_INVALID;
    if ((record->errcode & kFatal) != 0 || record->pos < 0) {
      return tl::unexpected<Error>(RecordError(path, file.get(), out.records - 1, all_samples, "htslib could not parse it"));
    }
    const int rid = record->rid;
    if (rid >= static_cast<int>(chromosome_of_rid.size())) chromosome_of_rid.resize(static_cast<std::size_t>(rid) + 1, -2);
    int& code = chromosome_of_rid[static_cast<std::size_t>(rid)];
    if (code == -2) {
      const auto found = std::find(chromosomes.begin(), chromosomes.end(), ChromosomeKey(bcf_hdr_id2name(header.get(), rid)));
      code = found == chromosomes.end() ? -1 : static_cast<int>(found - chromosomes.begin());
    }
    if (code < 0) continue;
    const auto site = sites.find((static_cast<std::uint64_t>(code) << 32) | static_cast<std::uint64_t>(record->pos + 1));
    if (site == sites.end()) continue;
    ++out.records_used;
    const AlleleMatcher& matcher = out.matchers[site->second.gene];
    const PgxDefinition::Position& expected = matcher.definition().positions[site->second.position];
    const std::string where = fmt::format("{}:{}", bcf_hdr_id2name(header.get(), rid), record->pos + 1);
    if (bcf_unpack(record.get(), BCF_UN_STR) < 0) {
      return tl::unexpected<Error>(RecordError(path, file.get(), out.records - 1, all_samples, "htslib could not unpack it"));
    }
    const std::string ref = record->d.allele[0];
    if (ref.size() != 1) {
      skipped.push_back(fmt::format("{} (REF {} is not a single base)", where, ref));
      continue;
    }
    const BaseMask reference = BaseMaskOf(expected.ref);
    if (BaseMaskOf(ref[0]) != reference) {
      ref_mismatches.push_back(fmt::format("{} has REF {}, GRCh38 has {}", where, ref, expected.ref));
      continue;
    }
    std::vector<BaseMask> bases;
    for (int allele_idx = 0; allele_idx < record->n_allele; ++allele_idx) {
      const char* allele = record->d.allele[allele_idx];
      const bool single = allele[0] != '\0' && allele[1] == '\0';
      const BaseMask mask = single ? BaseMaskOf(allele[0]) : BaseMask{0};
      bases.push_back(mask == 1 || mask == 2 || mask == 4 || mask == 8 ? mask : BaseMask{0});
    }
    const int total = bcf_get_genotypes(header.get(), record.get(), &buffer.data, &buffer.capacity);
    if (total <= 0) {
      ++no_gt;
      continue;
    }
    const int ploidy = total / samples;
    auto& row = out.by_gene[site->second.gene];
    const std::size_t positions = matcher.definition().positions.size();
    for (int sample_idx = 0; sample_idx < samples; ++sample_idx) {
      const int32_t* values = buffer.data + static_cast<std::ptrdiff_t>(sample_idx) * ploidy;
      const bool diploid = ploidy == 2 && values[1] != bcf_int32_vector_end;
      PositionGenotype genotype;
      if (!diploid) {
        // A haploid call, or a polyploid one, at an autosomal CYP position: not interpretable, stays missing.
        const bool called = ploidy >= 1 && !bcf_gt_is_missing(values[0]) && values[0] != bcf_int32_vector_end;
        if (called) ++not_diploid;
      } else if (!bcf_gt_is_missing(values[0]) && !bcf_gt_is_missing(values[1])) {
        const int first = bcf_gt_allele(values[0]);
        const int second = bcf_gt_allele(values[1]);
        if (first < 0 || second < 0 || first >= record->n_allele || second >= record->n_allele) {
          return tl::unexpected<Error>(RecordError(path, file.get(), out.records - 1, all_samples, "a genotype names an allele the record does not have"));
        }
        genotype.first = bases[static_cast<std::size_t>(first)];
        genotype.second = bases[static_cast<std::size_t>(second)];
        genotype.phased = bcf_gt_is_phased(values[1]) != 0;
        if (genotype.first == 0 || genotype.second == 0) genotype = PositionGenotype{};
      }
      Merge(row[static_cast<std::size_t>(sample_idx) * positions + site->second.position], genotype, reference);
    }
  }
  if (status < -1) return tl::unexpected<Error>(RecordError(path, file.get(), out.records, all_samples, "htslib could not parse it"));

  auto list = [](const std::vector<std::string>& items) {
    std::string text;
    for (std::size_t index = 0; index < items.size() && index < 10; ++index) text += (index == 0 ? "" : "; ") + items[index];
    if (items.size() > 10) text += fmt::format("; and {} more", items.size() - 10);
    return text;
  };
  const std::string rule = out.matchers.empty() ? std::string() : out.matchers.front().definition().id;
  const std::vector<std::string> sources = out.matchers.empty() ? std::vector<std::string>() : out.matchers.front().definition().sources;
  if (!ref_mismatches.empty()) {
    out.findings.push_back(Finding{"pgx_vcf_ref_mismatch",
                                   fmt::format("{} record{} at CPIC positions disagree with the GRCh38 reference and were ignored (is the file on "
                                               "GRCh37?): {}",
                                               ref_mismatches.size(), ref_mismatches.size() == 1 ? "" : "s", list(ref_mismatches)),
                                   rule, sources});
  }
  if (!skipped.empty()) {
    out.findings.push_back(Finding{"pgx_vcf_record_skipped",
                                   fmt::format("{} record{} at CPIC positions are not single-base and were ignored: {}", skipped.size(),
                                               skipped.size() == 1 ? "" : "s", list(skipped)),
                                   rule, sources});
  }
  if (no_gt > 0) {
    out.findings.push_back(Finding{"pgx_vcf_no_gt", fmt::format("{} record{} at CPIC positions have no GT field; those positions are missing", no_gt,
                                                                no_gt == 1 ? "" : "s"),
                                   rule, sources});
  }
  if (not_diploid > 0) {
    out.findings.push_back(Finding{"pgx_vcf_not_diploid",
                                   fmt::format("{} genotype{} at CPIC positions are not diploid and were treated as missing", not_diploid,
                                               not_diploid == 1 ? "" : "s"),
                                   rule, sources});
  }
  std::string genes;
  for (const AlleleMatcher& matcher : out.matchers) genes += (genes.empty() ? "" : " or ") + matcher.gene().gene;
  if (out.records_used == 0) {
    out.findings.push_back(Finding{"pgx_vcf_no_positions",
                                   fmt::format("none of the {} records is at a CPIC definition position of {} (is the file on GRCh38, with chr10 and "
                                               "chr19?): nothing can be called",
                                               out.records, genes),
                                   rule, sources});
  }
  return out;
}

VcfCallReport CallSamples(const PgxKnowledge& knowledge, const VcfGenotypes& genotypes) {
  VcfCallReport report;
  report.path = genotypes.path;
  report.records = genotypes.records;
  report.records_used = genotypes.records_used;
  report.findings = genotypes.findings;
  for (const AlleleMatcher& matcher : genotypes.matchers) report.genes.push_back(matcher.gene().gene);
  for (const PgxGeneInfo& gene : knowledge.genes) {
    if (gene.vcf_callable) continue;
    report.not_called.push_back(gene.gene);
    report.findings.push_back(Finding{"pgx_vcf_outside_call_needed", gene.vcf_note, gene.rule, gene.sources});
  }
  report.samples.reserve(genotypes.samples.size());
  for (std::size_t sample_idx = 0; sample_idx < genotypes.samples.size(); ++sample_idx) {
    SampleCalls calls{genotypes.samples[sample_idx], {}};
    for (std::size_t gene_idx = 0; gene_idx < genotypes.matchers.size(); ++gene_idx) {
      const std::size_t positions = genotypes.matchers[gene_idx].definition().positions.size();
      const std::span<const PositionGenotype> row(genotypes.by_gene[gene_idx].data() + sample_idx * positions, positions);
      calls.calls.push_back(genotypes.matchers[gene_idx].Call(row));
    }
    report.samples.push_back(std::move(calls));
  }
  return report;
}

Result<VcfCallReport> CallVcf(const PgxKnowledge& knowledge, const std::filesystem::path& path, const VcfOptions& options) {
  auto genotypes = ReadVcfGenotypes(knowledge, path, options);
  if (!genotypes) return tl::unexpected<Error>(genotypes.error());
  return CallSamples(knowledge, *genotypes);
}

}  // namespace refract::vcf
