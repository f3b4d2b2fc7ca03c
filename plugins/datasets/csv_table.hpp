#pragma once
// A CSV file as a table of text cells, each remembering the line it ended on, parsed by libcsv
// (Debian's libcsv-dev: RFC 4180 quoting, quoted delimiters and newlines, strict mode). The
// `csv` dataset turns cells into numbers; this file only knows about CSV syntax.
#include <csv.h>

#include <fstream>
#include <string>
#include <vector>

#include <unroll/error.hpp>

namespace unroll::csv {

struct Cell {
  std::string text;
  bool empty = false;  // an empty, unquoted field: a missing value
};

struct Row {
  std::vector<Cell> cells;
  long line = 0;  // line of the file the row ends on (1-based)
};

struct Table {
  std::string path;
  std::vector<std::string> header;
  std::vector<Row> rows;  // data rows, header excluded
};

/// Read `path` with `delimiter`; the first row is the header. Blank lines are skipped. Errors
/// (unreadable file, broken quoting, rows with a different number of fields than the header,
/// an empty or duplicate column name) name the file and line.
inline Table read_table(const std::string& path, char delimiter) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(path + ": cannot open the CSV file");
  struct State {
    Table t;
    Row row;
    long line = 1;
    bool header_done = false;
  } st;
  st.t.path = path;
  auto on_field = [](void* s, std::size_t n, void* data) {
    auto* state = static_cast<State*>(data);
    Cell c;
    if (s) c.text.assign(static_cast<const char*>(s), n);
    c.empty = s == nullptr;
    state->row.cells.push_back(std::move(c));
  };
  auto on_row = [](int, void* data) {
    auto* state = static_cast<State*>(data);
    state->row.line = state->line;
    if (!state->header_done) {
      for (auto& c : state->row.cells) state->t.header.push_back(c.text);
      state->header_done = true;
    } else {
      state->t.rows.push_back(std::move(state->row));
    }
    state->row = Row{};
  };
  csv_parser p;
  if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_EMPTY_IS_NULL) != 0)
    throw Error(path + ": cannot start the CSV parser");
  csv_set_delim(&p, static_cast<unsigned char>(delimiter));
  // Fed one line at a time, so that a row's line number is the line being read when it ends.
  std::string line;
  auto fail = [&](const std::string& why) {
    csv_free(&p);
    return Error(path + ":" + std::to_string(st.line) + ": " + why);
  };
  while (std::getline(in, line)) {
    line += '\n';
    if (csv_parse(&p, line.data(), line.size(), on_field, on_row, &st) != line.size())
      throw fail(std::string("malformed CSV (") + csv_strerror(csv_error(&p)) + ")");
    ++st.line;
  }
  --st.line;
  if (csv_fini(&p, on_field, on_row, &st) != 0)
    throw fail("malformed CSV: a quoted field is not closed before the end of the file");
  csv_free(&p);

  if (st.t.header.empty()) throw Error(path + ": empty CSV file (expected a header row of column names)");
  for (std::size_t c = 0; c < st.t.header.size(); ++c) {
    if (st.t.header[c].empty())
      throw Error(path + ":1:" + std::to_string(c + 1) + ": column " + std::to_string(c + 1) +
                  " of the header has no name");
    for (std::size_t d = 0; d < c; ++d)
      if (st.t.header[d] == st.t.header[c])
        throw Error(path + ":1:" + std::to_string(c + 1) + ": column name '" + st.t.header[c] + "' appears twice");
  }
  for (const Row& r : st.t.rows)
    if (r.cells.size() != st.t.header.size())
      throw Error(path + ":" + std::to_string(r.line) + ": the row has " + std::to_string(r.cells.size()) +
                  " fields, the header has " + std::to_string(st.t.header.size()));
  return st.t;
}

}  // namespace unroll::csv
