// SPDX-License-Identifier: Apache-2.0
// VCF reading and per-sample calling: plain and bgzipped files, several samples, absent and
// no-call positions, multi-allelic sites, and clear errors (file and line) for malformed files.
#include "refract/vcf/pgx_vcf.h"

#include <filesystem>
#include <fstream>
#include <map>

#include <gtest/gtest.h>
#include <htslib/bgzf.h>
#include <unistd.h>

#include "refract/app/app.h"

namespace refract::vcf {
namespace {

const std::filesystem::path kSource = REFRACT_SOURCE_DIR;

const KnowledgeBase& Kb() {
  static const KnowledgeBase kb = [] {
    auto files = app::ReadKbDirectory(kSource / "kb");
    auto loaded = LoadKnowledgeBase(*files, "kb");
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return kb;
}

const PgxKnowledge& Pgx() {
  static const PgxKnowledge knowledge = [] {
    auto loaded = LoadPgxKnowledge(Kb());
    if (!loaded) std::abort();
    return std::move(*loaded);
  }();
  return knowledge;
}

const char* kHeader =
    "##fileformat=VCFv4.2\n"
    "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">\n"
    "##contig=<ID=chr10,assembly=GRCh38>\n"
    "##contig=<ID=chr19,assembly=GRCh38>\n";

/// Builds a VCF with a record at every definition position (reference genotypes unless overridden).
class VcfBuilder {
 public:
  explicit VcfBuilder(std::vector<std::string> samples) : samples_(std::move(samples)) {}

  /// Genotype of one sample at one position ("0/1", "1|0", "./.").
  VcfBuilder& Genotype(std::uint32_t position, const std::string& sample, const std::string& genotype) {
    overrides_[{position, sample}] = genotype;
    return *this;
  }
  VcfBuilder& Drop(std::uint32_t position) {
    dropped_.push_back(position);
    return *this;
  }

  [[nodiscard]] std::string Text() const {
    std::string out = kHeader;
    out += "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT";
    for (const std::string& sample : samples_) out += "\t" + sample;
    out += "\n";
    for (const char* gene : {"CYP2C19", "CYP2B6"}) {
      const PgxDefinition& definition = *Pgx().FindDefinition(gene);
      for (const auto& position : definition.positions) {
        if (std::find(dropped_.begin(), dropped_.end(), position.position) != dropped_.end()) continue;
        std::string alts;
        for (const char alt : position.alts) alts += std::string(alts.empty() ? "" : ",") + alt;
        out += definition.chromosome + "\t" + std::to_string(position.position) + "\t" + (position.rsid.empty() ? "." : position.rsid) + "\t" +
               position.ref + "\t" + alts + "\t.\tPASS\t.\tGT";
        for (const std::string& sample : samples_) {
          const auto found = overrides_.find({position.position, sample});
          out += "\t" + (found == overrides_.end() ? std::string("0/0") : found->second);
        }
        out += "\n";
      }
    }
    return out;
  }

 private:
  std::vector<std::string> samples_;
  std::map<std::pair<std::uint32_t, std::string>, std::string> overrides_;
  std::vector<std::uint32_t> dropped_;
};

class TempFile {
 public:
  TempFile(const std::string& name, const std::string& content, bool bgzip = false) {
    path_ = std::filesystem::temp_directory_path() / ("refract-pgx-" + std::to_string(::getpid()) + "-" + name);
    if (bgzip) {
      BGZF* file = bgzf_open(path_.c_str(), "w");
      EXPECT_NE(file, nullptr);
      EXPECT_EQ(bgzf_write(file, content.data(), content.size()), static_cast<ssize_t>(content.size()));
      EXPECT_EQ(bgzf_close(file), 0);
    } else {
      std::ofstream(path_) << content;
    }
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() { std::filesystem::remove(path_); }
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

std::string Diplotypes(const AlleleCall& call) {
  std::string out;
  for (const auto& candidate : call.candidates) out += (out.empty() ? "" : " or ") + candidate.first + "/" + candidate.second;
  return out;
}

const AlleleCall& GeneCall(const SampleCalls& sample, const std::string& gene) {
  for (const AlleleCall& call : sample.calls) {
    if (call.gene == gene) return call;
  }
  static const AlleleCall kNone;
  ADD_FAILURE() << gene << " not called";
  return kNone;
}

constexpr std::uint32_t kRs12248560 = 94761900;
constexpr std::uint32_t kRs3758581 = 94842866;

TEST(PgxVcf, CallsEverySampleOfAMultiSampleFile) {
  VcfBuilder builder({"ref", "het17", "star2"});
  builder.Genotype(kRs3758581, "het17", "1/1").Genotype(kRs12248560, "het17", "0/1");
  builder.Genotype(kRs3758581, "star2", "1/1").Genotype(94781859, "star2", "0/1").Genotype(94775367, "star2", "1/0");
  const TempFile file("multi.vcf", builder.Text());
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  ASSERT_TRUE(report) << report.error().message;
  ASSERT_EQ(report->samples.size(), 3U);
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[0], "CYP2C19")), "*38/*38");
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[0], "CYP2B6")), "*1/*1");
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[1], "CYP2C19")), "*1/*17");
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[2], "CYP2C19")), "*1/*2");
  EXPECT_EQ(report->records_used, 81U);
  EXPECT_EQ(report->not_called, std::vector<std::string>{"CYP2D6"});
}

TEST(PgxVcf, BgzippedFileGivesTheSameCalls) {
  VcfBuilder builder({"S1"});
  builder.Genotype(kRs3758581, "S1", "1/1").Genotype(kRs12248560, "S1", "1/1");
  const TempFile plain("plain.vcf", builder.Text());
  const TempFile compressed("compressed.vcf.gz", builder.Text(), true);
  auto one = CallVcf(Pgx(), plain.path(), VcfOptions{});
  auto two = CallVcf(Pgx(), compressed.path(), VcfOptions{});
  ASSERT_TRUE(one && two);
  EXPECT_EQ(Diplotypes(GeneCall(two->samples[0], "CYP2C19")), "*17/*17");
  EXPECT_EQ(Diplotypes(GeneCall(one->samples[0], "CYP2C19")), Diplotypes(GeneCall(two->samples[0], "CYP2C19")));
}

TEST(PgxVcf, AbsentAndNoCallPositionsAreMissingNotReference) {
  VcfBuilder builder({"S1"});
  builder.Drop(kRs12248560).Genotype(kRs3758581, "S1", "1/1").Genotype(94762706, "S1", "./.");
  const TempFile file("missing.vcf", builder.Text());
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  ASSERT_TRUE(report);
  const AlleleCall& call = GeneCall(report->samples[0], "CYP2C19");
  EXPECT_EQ(call.status, CallStatus::Ambiguous);
  EXPECT_EQ(call.missing_positions, (std::vector<std::uint32_t>{kRs12248560, 94762706}));
  EXPECT_EQ(Diplotypes(call), "*1/*1 or *1/*4 or *1/*17 or *4/*4 or *4/*17 or *17/*17");
  EXPECT_EQ(call.phenotype, Phenotype::Indeterminate);
}

TEST(PgxVcf, MultiAllelicSiteAndSplitRecords) {
  // rs3211371 (41016810) is C>A,T: T defines *5, A defines *33.
  VcfBuilder builder({"S1"});
  builder.Genotype(41016810, "S1", "1/2");
  const TempFile joint("joint.vcf", builder.Text());
  auto report = CallVcf(Pgx(), joint.path(), VcfOptions{});
  ASSERT_TRUE(report);
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[0], "CYP2B6")), "*5/*33");

  std::string text = VcfBuilder({"S1"}).Drop(41016810).Text();
  text += "chr19\t41016810\trs3211371\tC\tA\t.\tPASS\t.\tGT\t0/1\n";
  text += "chr19\t41016810\trs3211371\tC\tT\t.\tPASS\t.\tGT\t1/0\n";
  const TempFile split("split.vcf", text);
  auto split_report = CallVcf(Pgx(), split.path(), VcfOptions{});
  ASSERT_TRUE(split_report) << split_report.error().message;
  EXPECT_EQ(Diplotypes(GeneCall(split_report->samples[0], "CYP2B6")), "*5/*33");
}

TEST(PgxVcf, OneSampleCanBeSelected) {
  VcfBuilder builder({"A", "B"});
  builder.Genotype(kRs3758581, "B", "1/1");
  const TempFile file("select.vcf", builder.Text());
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{"B"});
  ASSERT_TRUE(report);
  ASSERT_EQ(report->samples.size(), 1U);
  EXPECT_EQ(report->samples[0].sample, "B");
  EXPECT_EQ(Diplotypes(GeneCall(report->samples[0], "CYP2C19")), "*1/*1");
  auto unknown = CallVcf(Pgx(), file.path(), VcfOptions{"C"});
  ASSERT_FALSE(unknown);
  EXPECT_EQ(unknown.error().message, "sample \"C\" is not in " + file.path().string() + " (samples: A, B)");
  EXPECT_EQ(unknown.error().location, "--sample");
}

TEST(PgxVcf, Grch37RefIsIgnoredWithAFinding) {
  std::string text = VcfBuilder({"S1"}).Drop(kRs12248560).Text();
  text += "chr10\t94761900\trs12248560\tA\tT\t.\tPASS\t.\tGT\t0/1\n";
  const TempFile file("grch37.vcf", text);
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  ASSERT_TRUE(report);
  ASSERT_FALSE(report->findings.empty());
  EXPECT_EQ(report->findings[0].code, "pgx_vcf_ref_mismatch");
  EXPECT_EQ(report->findings[0].message,
            "1 record at CPIC positions disagree with the GRCh38 reference and were ignored (is the file on GRCh37?): chr10:94761900 has REF A, "
            "GRCh38 has C");
  EXPECT_EQ(GeneCall(report->samples[0], "CYP2C19").missing_positions, std::vector<std::uint32_t>{kRs12248560});
}

TEST(PgxVcf, HaploidGenotypesAreMissing) {
  VcfBuilder builder({"S1"});
  builder.Genotype(kRs3758581, "S1", "1");
  const TempFile file("haploid.vcf", builder.Text());
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  ASSERT_TRUE(report);
  EXPECT_EQ(GeneCall(report->samples[0], "CYP2C19").missing_positions, std::vector<std::uint32_t>{kRs3758581});
  bool reported = false;
  for (const Finding& finding : report->findings) reported = reported || finding.code == "pgx_vcf_not_diploid";
  EXPECT_TRUE(reported);
}

// ---- errors ----

std::string ErrorOf(const std::string& name, const std::string& content) {
  const TempFile file(name, content);
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  EXPECT_FALSE(report);
  if (report) return {};
  const std::string prefix = file.path().string();
  std::string message = report.error().message;
  if (message.rfind(prefix, 0) == 0) message = "FILE" + message.substr(prefix.size());
  return message;
}

TEST(PgxVcfErrors, MissingFile) {
  auto report = CallVcf(Pgx(), "/nonexistent/refract.vcf", VcfOptions{});
  ASSERT_FALSE(report);
  EXPECT_EQ(report.error().code, ErrorCode::Io);
  EXPECT_EQ(report.error().message, "cannot open /nonexistent/refract.vcf: No such file or directory");
}

TEST(PgxVcfErrors, NotAVcf) { EXPECT_EQ(ErrorOf("junk.vcf", "hello world\n"), "FILE: not a VCF file (expected a ##fileformat=VCF header; plain or bgzip-compressed)"); }

TEST(PgxVcfErrors, HeaderWithoutChromLine) {
  EXPECT_EQ(ErrorOf("nochrom.vcf", std::string(kHeader) + "chr10\t94761900\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\n"),
            "FILE:5: malformed VCF header (expected ##fileformat, meta-information lines and a #CHROM line)");
}

TEST(PgxVcfErrors, NoSampleColumns) {
  EXPECT_EQ(ErrorOf("nosamples.vcf", std::string(kHeader) + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\nchr10\t94761900\t.\tC\tT\t.\tPASS\t.\n"),
            "FILE: the VCF has no sample columns");
}

const std::string kChrom = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2\n";

TEST(PgxVcfErrors, RecordWithTooFewColumns) {
  EXPECT_EQ(ErrorOf("ncols.vcf", std::string(kHeader) + kChrom + "chr10\t94761900\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\nchr10\t94762706\t.\tA\tG\t.\tPASS\t.\tGT\t0/0\n"),
            "FILE:7: malformed VCF record: expected 11 tab-separated columns (9 + 2 samples), found 10");
}

TEST(PgxVcfErrors, PositionThatIsNotANumber) {
  EXPECT_EQ(ErrorOf("pos.vcf", std::string(kHeader) + kChrom + "chr10\tabc\t.\tC\tT\t.\tPASS\t.\tGT\t0/1\t0/0\n"),
            "FILE:6: malformed VCF record: POS \"abc\" is not a positive integer");
}

TEST(PgxVcfErrors, GenotypeThatIsNotAGenotype) {
  EXPECT_EQ(ErrorOf("gt.vcf", std::string(kHeader) + kChrom + "chr10\t94761900\t.\tC\tT\t.\tPASS\t.\tGT\t0/x\t0/0\n"),
            "FILE:6: malformed VCF record: genotype \"0/x\" in sample column 1 is not a valid GT for 2 alleles");
}

TEST(PgxVcfErrors, GenotypeNamingAnAlleleTheRecordLacks) {
  EXPECT_EQ(ErrorOf("allele.vcf", std::string(kHeader) + kChrom + "chr10\t94761900\t.\tC\tT\t.\tPASS\t.\tGT\t0/0\t2/1\n"),
            "FILE:6: malformed VCF record: genotype \"2/1\" in sample column 2 is not a valid GT for 2 alleles");
}

// ---- renderings ----

TEST(PgxVcfReport, TsvHasOneRowPerSampleAndGene) {
  VcfBuilder builder({"S1", "S2"});
  builder.Genotype(kRs3758581, "S2", "1/1");
  const TempFile file("tsv.vcf", builder.Text());
  auto report = CallVcf(Pgx(), file.path(), VcfOptions{});
  ASSERT_TRUE(report);
  EXPECT_EQ(VcfCallsToTsv(*report),
            "sample\tgene\tstatus\tdiplotypes\tphenotype\tmissing_positions\tunexplained\n"
            "S1\tCYP2B6\tcalled\t*1/*1\tnormal\t\t\n"
            "S1\tCYP2C19\tcalled\t*38/*38\tnormal\t\t\n"
            "S1\tCYP2D6\tnot_called_from_vcf\t\t\t\t\n"
            "S2\tCYP2B6\tcalled\t*1/*1\tnormal\t\t\n"
            "S2\tCYP2C19\tcalled\t*1/*1\tnormal\t\t\n"
            "S2\tCYP2D6\tnot_called_from_vcf\t\t\t\t\n");
}

}  // namespace
}  // namespace refract::vcf
