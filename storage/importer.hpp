#pragma once
// `callpop import`: customers, assets and notes from the CSV files a CRM exports
// (docs/csv.md is the exact spec). Bad rows are reported and skipped; good rows are kept.
#include <cstddef>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>
#include <vector>

#include "storage/phone_number.hpp"
#include "storage/customer_import.hpp"

namespace callpop::storage {

struct RowError {
    std::size_t line = 0;  // 1-based line on which the row starts
    std::string reason;    // e.g. `purchased: "2023-02-30" is not a date (YYYY-MM-DD)`
};

struct ImportReport {
    std::string file;  // the path as given, as messages name it
    std::size_t rows = 0;  // data rows read, without the header
    std::size_t inserted_or_updated = 0;
    std::vector<RowError> errors;      // one per rejected row
    std::vector<std::string> warnings;  // about the file, e.g. an ignored unknown column

    std::size_t rejected() const { return errors.size(); }
    // "customers.csv:17: phones: \"abc\" is not a phone number"
    std::string describe(const RowError& error) const;
    // "customers.csv: 5000 rows, 4998 imported, 2 rejected"
    std::string summary() const;
};

// A problem with the whole file (cannot be read, no header, a required column missing);
// nothing more of it is imported. The message starts with the file name.
class ImportError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Called with the number of rows read so far, every `progress_interval` rows: a few times
// a second at the rates an import reaches, often enough for a progress line on a terminal.
using ImportProgress = std::function<void(std::size_t rows)>;
inline constexpr std::size_t progress_interval = 10'000;

// Each import commits in chunks of rows, so a big file holds the database's write lock only
// briefly at a time; a re-run after a failure updates what is already there.
ImportReport import_customers(CustomerImport& store, const std::filesystem::path& path,
                              const PhoneNormalizer& normalizer,
                              const ImportProgress& progress = {});
ImportReport import_assets(CustomerImport& store, const std::filesystem::path& path,
                           const ImportProgress& progress = {});
ImportReport import_notes(CustomerImport& store, const std::filesystem::path& path,
                          const ImportProgress& progress = {});

}  // namespace callpop::storage
