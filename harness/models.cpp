#include "harness/models.hpp"

#include <sstream>
#include <stdexcept>

namespace iomodels {
namespace {

// The Makefile wraps models.txt in a raw string literal (build/gen/models_table.inc).
constexpr std::string_view kTableText =
#include "models_table.inc"
    ;

std::vector<std::string> split_commas(const std::string& field) {
  std::vector<std::string> items;
  if (field == "-") return items;
  std::string item;
  std::istringstream in(field);
  while (std::getline(in, item, ',')) items.push_back(item);
  return items;
}

template <class T>
T pick(const std::string& field, std::initializer_list<std::pair<const char*, T>> choices, const std::string& where) {
  for (const auto& [text, value] : choices) {
    if (field == text) return value;
  }
  throw std::invalid_argument(where + ": '" + field + "' is not a valid value");
}

int parse_count(const std::string& text, const std::string& where) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    throw std::invalid_argument(where + ": limit '" + text + "' is not -, N or threads:N");
  }
  return std::stoi(text);
}

}  // namespace

std::string ModelRow::binary() const {
  switch (kind) {
    case ModelKind::kServer:
      return name;
    case ModelKind::kShape:
      return runs;
    case ModelKind::kPython:
      break;
  }
  return {};
}

std::vector<ModelRow> parse_model_table(std::string_view text) {
  std::vector<ModelRow> rows;
  std::istringstream lines{std::string(text)};
  std::string line;
  for (int number = 1; std::getline(lines, line); ++number) {
    std::istringstream words(line);
    std::vector<std::string> fields;
    for (std::string word; words >> word;) fields.push_back(word);
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = "models.txt:" + std::to_string(number);
    if (fields.size() != 8)
      throw std::invalid_argument(where + ": expected 8 columns, found " + std::to_string(fields.size()));
    ModelRow row;
    row.name = fields[0];
    row.kind = pick<ModelKind>(
        fields[1], {{"server", ModelKind::kServer}, {"shape", ModelKind::kShape}, {"python", ModelKind::kPython}},
        where);
    row.runs = fields[2];
    row.threads = pick<ThreadsFlag>(fields[3],
                                    {{"rejected", ThreadsFlag::kRejected},
                                     {"required", ThreadsFlag::kRequired},
                                     {"optional", ThreadsFlag::kOptional}},
                                    where);
    if (fields[4].starts_with("threads:")) {
      row.limit = parse_count(fields[4].substr(8), where);
      row.limit_is_threads = true;
    } else if (fields[4] != "-") {
      row.limit = parse_count(fields[4], where);
    }
    row.forks = pick<bool>(fields[5], {{"yes", true}, {"no", false}}, where);
    row.libs = split_commas(fields[6]);
    row.args = split_commas(fields[7]);
    rows.push_back(std::move(row));
  }
  for (const ModelRow& row : rows) {
    if (row.kind != ModelKind::kShape) continue;
    bool found = false;
    for (const ModelRow& other : rows) found = found || (other.kind == ModelKind::kServer && other.name == row.runs);
    if (!found)
      throw std::invalid_argument("models.txt: shape " + row.name + " runs '" + row.runs + "', no server row");
  }
  return rows;
}

const std::vector<ModelRow>& model_table() {
  static const std::vector<ModelRow> rows = parse_model_table(kTableText);
  return rows;
}

std::vector<std::string> model_names(ModelKind kind) {
  std::vector<std::string> names;
  for (const ModelRow& row : model_table()) {
    if (row.kind == kind) names.push_back(row.name);
  }
  return names;
}

}  // namespace iomodels
