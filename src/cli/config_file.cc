#include "cli/config_file.h"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <system_error>

namespace cairn::cli {

Status ApplyConfigFile(CLI::App* app, const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status(Code::kNotFound, "config file " + path + " does not exist");
  CLI::ConfigTOML format;
  std::vector<CLI::ConfigItem> items;
  try {
    items = format.from_file(path);
  } catch (const CLI::Error& e) {
    return Status(Code::kInvalidRequest, "config file " + path + ": " + e.what());
  }
  for (const CLI::ConfigItem& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // a table opens or closes
    const std::string where = "config file " + path + ": '" + item.fullname() + "'";
    if (!item.parents.empty() && !(item.parents.size() == 1 && item.parents[0] == app->get_name()))
      return Status(Code::kInvalidRequest,
                    where + " is not a " + app->get_name() + " flag (use top-level keys or [" +
                        app->get_name() + "])");
    std::string name = item.name;
    for (char& c : name)
      if (c == '_') c = '-';
    CLI::Option* opt = name == "config" ? nullptr : app->get_option_no_throw("--" + name);
    if (opt == nullptr)
      return Status(Code::kInvalidRequest,
                    where + " is not a flag of cairn " + app->get_name() + " (see --help)");
    if (opt->count() > 0) continue;  // the command line or the environment said otherwise
    try {
      if (opt->get_expected_min() == 0) {  // a switch
        opt->add_result(opt->get_flag_value(name, format.to_flag(item)));
      } else {
        opt->add_result(item.inputs);
      }
      opt->run_callback();
    } catch (const CLI::Error& e) {
      return Status(Code::kInvalidRequest, where + ": " + e.what());
    }
  }
  return Status::Ok();
}

}  // namespace cairn::cli
