// SPDX-License-Identifier: Apache-2.0
// `refract screen`: TRD screening of a whole OMOP CDM population, one CSV row per person, a summary
// (text and HTML with a chart), data-quality and concept-resolution reports, and a progress bar.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "commands.h"
#include "refract/app/app.h"
#include "refract/core/omop.h"
#include "refract/omop/source.h"

namespace refract::cli {
namespace {

struct ScreenArgs {
  std::string omop;
  std::string out;
  std::string summary_html;
  std::string as_of;
  std::string criteria;
  std::string kb_dir;
  int threads = 0;
  std::int64_t chunk = 500;
  bool no_progress = false;
};

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (const char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += ch;
    }
  }
  return out;
}

std::string Duration(double seconds) {
  const auto total = static_cast<long>(seconds + 0.5);
  return total >= 3600 ? fmt::format("{}:{:02}:{:02}", total / 3600, total / 60 % 60, total % 60) : fmt::format("{}:{:02}", total / 60, total % 60);
}

std::string Rate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.2f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

// A horizontal bar chart as inline SVG (no script, no external file).
std::string BarChart(const std::string& title, const std::vector<std::pair<std::string, std::int64_t>>& bars) {
  std::int64_t highest = 1;
  for (const auto& [label, count] : bars) highest = std::max(highest, count);
  const int row_height = 26;
  const int height = static_cast<int>(bars.size()) * row_height + 36;
  std::string svg = fmt::format("<figure><figcaption>{}</figcaption><svg role=\"img\" aria-label=\"{}\" width=\"640\" height=\"{}\" "
                                "xmlns=\"http://www.w3.org/2000/svg\" font-family=\"sans-serif\" font-size=\"13\">",
                                HtmlEscape(title), HtmlEscape(title), height);
  for (std::size_t bar_idx = 0; bar_idx < bars.size(); ++bar_idx) {
    const int y = static_cast<int>(bar_idx) * row_height + 8;
    const double width = 380.0 * static_cast<double>(bars[bar_idx].second) / static_cast<double>(highest);
    svg += fmt::format("<text x=\"0\" y=\"{}\">{}</text><rect x=\"170\" y=\"{}\" width=\"{:.1f}\" height=\"18\" fill=\"#3b6ea5\"/>"
                       "<text x=\"{:.1f}\" y=\"{}\">{}</text>",
                       y + 14, HtmlEscape(bars[bar_idx].first), y, width, 176 + width, y + 14, bars[bar_idx].second);
  }
  return svg + "</svg></figure>\n";
}

struct RunInfo {
  std::string source;
  std::string source_kind;
  std::string kb_version;
  std::string kb_digest;
  std::string kb_origin;
  int threads = 1;
  double seconds = 0;
};

std::vector<std::pair<std::string, std::int64_t>> StatusBars(const omop::ScreenSummary& summary) {
  std::vector<std::pair<std::string, std::int64_t>> out;
  for (const TrdStatus status : {TrdStatus::Meets, TrdStatus::Indeterminate, TrdStatus::DoesNotMeet, TrdStatus::NotApplicable}) {
    out.emplace_back(std::string(TrdStatusName(status)), summary.by_status[static_cast<std::size_t>(status)]);
  }
  return out;
}

// "drug_exposure 200 from pages; person 198 from pages, 2 by query; ..." (empty for sources without figures).
std::string ReadingLine(const omop::ReadStats& reading) {
  std::string line;
  for (const auto& [table, reads] : reading.tables) {
    std::string parts;
    for (const auto& [count, how] : {std::pair{reads.from_pages, "from pages"}, {reads.rowid_cursor, "by rowid cursor"}, {reads.by_query, "by query"}}) {
      if (count != 0) parts += fmt::format("{}{} {}", parts.empty() ? "" : ", ", count, how);
    }
    line += fmt::format("{}{} {}", line.empty() ? "" : "; ", table, parts);
  }
  return line;
}

// What a data engineer should know about how the tables were read: a table read chunk by chunk by
// range queries is much slower than one stored in person_id order (docs/omop.md, section 1).
std::vector<std::string> ReadingNotes(const omop::ReadStats& reading) {
  std::vector<std::string> notes;
  for (const auto& [table, reads] : reading.tables) {
    if (reads.by_query == 0) continue;
    notes.push_back(fmt::format("{} of {} chunks of {} were read by person_id range queries, not in one pass over the table: its rows are not stored "
                                "in person_id order, it has no ordinary index on person_id, or values are stored as text where numbers are "
                                "expected; results are the same, but a table stored in person_id order with a person_id index reads several "
                                "times faster (docs/omop.md)",
                                reads.by_query, reads.from_pages + reads.rowid_cursor + reads.by_query, table));
  }
  return notes;
}

std::string SummaryText(const omop::ScreenSummary& summary, const omop::ConceptIndex& index, const RunInfo& info, const omop::ReadStats& reading) {
  std::string out = fmt::format("screen: {} persons, {} drug_exposure rows from {} ({}) in {:.2f} s on {} thread{} ({} rows/s)\n", summary.persons,
                                summary.drug_exposure_rows, info.source, info.source_kind, info.seconds, info.threads, info.threads == 1 ? "" : "s",
                                Rate(info.seconds > 0 ? static_cast<double>(summary.drug_exposure_rows) / info.seconds : 0));
  out += fmt::format("engine refract {}, kb_version {} {} ({})\n", app::Engine().version, info.kb_version, info.kb_digest, info.kb_origin);
  out += fmt::format("with a depression diagnosis: {}\n", summary.with_depression_diagnosis);
  out += "TRD status:";
  for (const auto& [status, count] : StatusBars(summary)) out += fmt::format(" {} {}", status, count);
  out += fmt::format("\nesketamine candidates: {}\nThase-Rush stage among TRD:", summary.esketamine_candidates);
  for (std::size_t stage_idx = 0; stage_idx < summary.thase_rush.size(); ++stage_idx) out += fmt::format(" {}:{}", stage_idx, summary.thase_rush[stage_idx]);
  out += "\nEuropean staging:";
  for (const auto& [category, count] : summary.european) out += fmt::format(" {} {}", category, count);
  out += "\nflags:";
  for (const auto& [flag, count] : summary.flags) out += fmt::format(" {} {}", flag, count);
  out += fmt::format("\ndata quality ({} problems, none fatal):", summary.data_quality.Total());
  for (std::size_t issue_idx = 0; issue_idx < omop::kDqIssueCount; ++issue_idx) {
    if (summary.data_quality.counts[issue_idx] != 0) {
      out += fmt::format(" {} {}", omop::DqIssueName(static_cast<omop::DqIssue>(issue_idx)), summary.data_quality.counts[issue_idx]);
    }
  }
  std::array<int, 5> resolution_counts{};
  for (const auto& resolution : index.resolutions) ++resolution_counts[static_cast<std::size_t>(resolution.status)];
  out += fmt::format("\nconcepts: {} KB entries: {} matched, {} drifted, {} resolved by id, {} name mismatch, {} not found\n", index.resolutions.size(),
                     resolution_counts[0], resolution_counts[1], resolution_counts[2], resolution_counts[3], resolution_counts[4]);
  if (const std::string line = ReadingLine(reading); !line.empty()) out += fmt::format("reading (chunks of each table): {}\n", line);
  return out;
}

std::string SummaryHtml(const omop::ScreenSummary& summary, const omop::ConceptIndex& index, const RunInfo& info, const omop::ReadStats& reading) {
  std::string html = "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>refract screen summary</title><style>"
                     "body{font-family:sans-serif;max-width:960px;margin:2em auto;color:#222}table{border-collapse:collapse;margin:1em 0}"
                     "td,th{border:1px solid #bbb;padding:4px 10px;text-align:left}td.n{text-align:right}figcaption{font-weight:bold}"
                     "</style></head><body>\n<h1>TRD population screening</h1>\n";
  html += fmt::format("<p>{} persons and {} drug_exposure rows read from <code>{}</code> ({}) in {:.2f} s on {} thread(s). Engine refract {}, "
                      "kb_version {} <code>{}</code> ({}).</p>\n",
                      summary.persons, summary.drug_exposure_rows, HtmlEscape(info.source), info.source_kind, info.seconds, info.threads,
                      app::Engine().version, info.kb_version, info.kb_digest, HtmlEscape(info.kb_origin));
  html += "<h2>TRD status</h2>\n<table><tr><th>status</th><th>persons</th><th>share</th></tr>";
  for (const auto& [status, count] : StatusBars(summary)) {
    html += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{:.1f}%</td></tr>", status, count,
                        summary.persons > 0 ? 100.0 * static_cast<double>(count) / static_cast<double>(summary.persons) : 0.0);
  }
  html += fmt::format("</table><p>With a depression diagnosis: {}. Esketamine candidates (TRD met, adult): {}.</p>\n",
                      summary.with_depression_diagnosis, summary.esketamine_candidates);
  html += BarChart("Persons by TRD status", StatusBars(summary));
  std::vector<std::pair<std::string, std::int64_t>> stages;
  for (std::size_t stage_idx = 0; stage_idx < summary.thase_rush.size(); ++stage_idx) {
    stages.emplace_back(fmt::format("stage {}", stage_idx), summary.thase_rush[stage_idx]);
  }
  html += "<h2>Stage distribution</h2>\n" + BarChart("Thase & Rush stage among persons meeting TRD", stages);
  html += BarChart("European Staging Method (all persons)", summary.european);
  html += "<h2>Flags</h2>\n<table><tr><th>flag</th><th>persons</th></tr>";
  for (const auto& [flag, count] : summary.flags) html += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td></tr>", flag, count);
  html += "</table>\n<h2>Data quality</h2>\n<p>Problems are counted and worked around as docs/omop.md describes; none stops the run.</p>"
          "<table><tr><th>problem</th><th>rows</th></tr>";
  for (std::size_t issue_idx = 0; issue_idx < omop::kDqIssueCount; ++issue_idx) {
    html += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td></tr>", omop::DqIssueName(static_cast<omop::DqIssue>(issue_idx)),
                        summary.data_quality.counts[issue_idx]);
  }
  html += "</table>\n<h2>Concept resolution</h2>\n<p>Every KB concept is looked up by (vocabulary, code) in this database's CONCEPT table at "
          "start-up; entries that did not match as expected:</p><table><tr><th>set</th><th>entry</th><th>status</th><th>detail</th></tr>";
  for (const auto& resolution : index.resolutions) {
    if (resolution.status == omop::ResolutionStatus::Matched && resolution.message.empty()) continue;
    html += fmt::format("<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", resolution.entry->set_id, HtmlEscape(resolution.entry->name),
                        omop::ResolutionStatusName(resolution.status), HtmlEscape(resolution.message));
  }
  html += "</table>\n";
  if (!reading.tables.empty()) {
    html += "<h2>Reading</h2>\n<p>How each table's rows were read, counted in chunks (docs/omop.md, section 1): from the table's pages in one "
            "pass, by SQLite's cursor in rowid order, or by a person_id range query per chunk (much slower; the results are the same).</p>"
            "<table><tr><th>table</th><th>from pages</th><th>by rowid cursor</th><th>by query</th></tr>";
    for (const auto& [table, reads] : reading.tables) {
      html += fmt::format("<tr><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>", table, reads.from_pages,
                          reads.rowid_cursor, reads.by_query);
    }
    html += "</table>\n";
    for (const std::string& note : ReadingNotes(reading)) html += "<p><strong>Note:</strong> " + HtmlEscape(note) + "</p>\n";
  }
  return html + "</body></html>\n";
}

int RunScreen(const ScreenArgs& args) {
  const auto started = std::chrono::steady_clock::now();
  omop::RunOptions options;
  if (!args.as_of.empty()) {
    const auto parsed = ParseDate(args.as_of);
    if (!parsed) return Report(Error{ErrorCode::InvalidInput, fmt::format("\"{}\" is not a valid date (expected YYYY-MM-DD)", args.as_of), "--as-of"});
    options.screen.as_of = *parsed;
  }
  options.screen.criteria_id = args.criteria;
  options.threads = args.threads > 0 ? args.threads : static_cast<int>(std::max(1U, std::thread::hardware_concurrency()));
  options.persons_per_chunk = args.chunk;
  // The source is opened and its person ids read on a second thread while the KB loads: the two
  // do not depend on each other, and both come before the first chunk.
  std::optional<Result<std::vector<std::int64_t>>> person_ids;
  auto opening = std::async(std::launch::async, [&]() {
    auto opened = omop::OpenSource(args.omop);
    if (opened) person_ids = (*opened)->PersonIds();
    return opened;
  });
  auto kb = app::LoadKb(KbDir(args.kb_dir));
  auto source = opening.get();
  if (!kb) return Report(kb.error());
  auto config = omop::LoadOmopConfig(*kb);
  if (!config) return Report(config.error());
  if (!source) return Report(source.error());
  if (!*person_ids) return Report(person_ids->error());
  options.person_ids = std::move(**person_ids);
  auto index = omop::PrepareIndex(**source, *kb, *config);
  if (!index) return Report(index.error());
  for (const auto& resolution : index->resolutions) {
    if (!resolution.message.empty()) std::cerr << "refract: concept: " << resolution.message << "\n";
  }

  // Rows go to a temporary file next to --out, renamed at the end: no half-written results.
  std::ofstream file;
  std::filesystem::path temporary;
  if (!args.out.empty()) {
    temporary = std::filesystem::path(args.out);
    temporary += fmt::format(".tmp-{}", getpid());
    file.open(temporary, std::ios::binary | std::ios::trunc);
    if (!file) return Report(Error{ErrorCode::Io, "cannot write the results file", args.out});
  }
  std::ostream& rows_out = args.out.empty() ? std::cout : file;
  rows_out << omop::ResultCsvHeader() << "\n";
  options.on_rows = [&](std::string_view text) { rows_out << text; };
  const bool progress_bar = !args.no_progress && isatty(STDERR_FILENO) == 1;
  auto last_draw = std::chrono::steady_clock::now();
  if (progress_bar) {
    options.on_progress = [&](const omop::Progress& progress) {
      const auto now = std::chrono::steady_clock::now();
      if (progress.persons_done != progress.persons_total && now - last_draw < std::chrono::milliseconds(100)) return;
      last_draw = now;
      const double seconds = std::chrono::duration<double>(now - started).count();
      const double fraction = progress.persons_total > 0 ? static_cast<double>(progress.persons_done) / static_cast<double>(progress.persons_total) : 1;
      const int filled = static_cast<int>(fraction * 30);
      const double rate = seconds > 0 ? static_cast<double>(progress.persons_done) / seconds : 0;
      const double eta = rate > 0 ? static_cast<double>(progress.persons_total - progress.persons_done) / rate : 0;
      std::cerr << fmt::format("\r[{}{}] {:5.1f}% {}/{} persons  {} persons/s  {} rows/s  ETA {}\033[K", std::string(static_cast<std::size_t>(filled), '#'),
                               std::string(static_cast<std::size_t>(30 - filled), '.'), fraction * 100, progress.persons_done, progress.persons_total,
                               Rate(rate), Rate(seconds > 0 ? static_cast<double>(progress.drug_rows_done) / seconds : 0), Duration(eta))
                << std::flush;
    };
  }
  auto run = omop::RunScreen(**source, *kb, *config, *index, options);
  if (progress_bar) std::cerr << "\n";
  if (!run) {
    if (file.is_open()) {
      file.close();
      std::error_code ignored;
      std::filesystem::remove(temporary, ignored);
    }
    return Report(run.error());
  }
  const omop::ScreenSummary* summary = &run->summary;
  for (const std::string& note : ReadingNotes(run->reading)) std::cerr << "refract: note: " << note << "\n";
  RunInfo info{args.omop, std::string((*source)->Kind()), kb->version(), kb->digest(), kb->origin(), options.threads,
               std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count()};
  if (info.source.find('@') != std::string::npos) info.source = info.source.substr(0, info.source.find("://") + 3) + "…" + info.source.substr(info.source.find('@'));
  if (file.is_open()) {
    file.flush();
    file.close();
    if (!file) return Report(Error{ErrorCode::Io, "cannot write the results file", args.out});
    std::error_code error;
    std::filesystem::rename(temporary, args.out, error);
    if (error) return Report(Error{ErrorCode::Io, fmt::format("cannot rename the results file: {}", error.message()), args.out});
  }
  std::string html_path = args.summary_html;
  if (html_path.empty() && !args.out.empty()) {
    std::filesystem::path derived(args.out);
    derived.replace_extension(".summary.html");
    html_path = derived.string();
  }
  if (!html_path.empty()) {
    auto written = app::WriteFileAtomically(html_path, SummaryHtml(*summary, *index, info, run->reading));
    if (!written) return Report(written.error());
  }
  (args.out.empty() ? std::cerr : std::cout) << SummaryText(*summary, *index, info, run->reading)
                                             << (args.out.empty() ? "" : fmt::format("wrote {}{}\n", args.out, html_path.empty() ? "" : " and " + html_path));
  return 0;
}

void AddScreen(CLI::App& app, std::vector<Handler>& handlers) {
  static ScreenArgs args;
  auto* command = app.add_subcommand("screen", "screen an OMOP CDM population for treatment-resistant depression");
  command->add_option("--omop", args.omop, "sqlite:cdm.sqlite, postgresql://user@host/db, csv:DIR or a directory of CSV files")->required();
  command->add_option("--out", args.out, "write one CSV row per person here (default: standard output)");
  command->add_option("--summary-html", args.summary_html, "write the HTML summary here (default: next to --out, .summary.html)");
  command->add_option("--as-of", args.as_of, "assessment date YYYY-MM-DD (default: each person's observation period end)");
  command->add_option("--criteria", args.criteria, "criteria set: atrq (default), atrq_8w, atrq_strict25");
  command->add_option("--threads", args.threads, "worker threads (default: all cores); results do not depend on it");
  command->add_option("--chunk", args.chunk, "persons per unit of work (default 500); results do not depend on it");
  command->add_flag("--no-progress", args.no_progress, "no progress bar even on a terminal");
  command->add_option("--kb", args.kb_dir, "load the knowledge base from this directory instead of the built-in one");
  handlers.push_back(Handler{command, [] { return RunScreen(args); }});
}

const RegisterCommands kRegister{&AddScreen};

}  // namespace
}  // namespace refract::cli
