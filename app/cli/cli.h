#pragma once

#include <QString>
#include <QStringList>

#include <optional>

namespace gfm::cli {

/** @brief Exit statuses of gflowmix-cli (a contract with scripts). */
enum ExitCode
{
  kOk = 0,
  kFailure = 1,  ///< something broke at run time
  kBadInput = 2, ///< a bad file, key, value or option; one line on stderr names it
};

/**
 * @brief A command line after the command word: positional arguments and options.
 *
 * Options are `--name value` or `--name=value`; flags are `--name`. Repeatable options (--set)
 * keep every value.
 */
class Arguments
{
public:
  /** @brief Parses; on an unknown option fills `error` and returns nothing. */
  static std::optional<Arguments> parse(const QStringList& args,
                                        const QStringList& valueOptions,
                                        const QStringList& flags,
                                        QString* error);

  const QStringList& positional() const { return m_positional; }
  bool has(const QString& name) const;
  QString value(const QString& name, const QString& fallback = {}) const;
  QStringList values(const QString& name) const;

  /** @brief An integer option in [lo, hi]; on a bad value fills `error`. */
  std::optional<long long> integer(const QString& name,
                                   long long fallback,
                                   long long lo,
                                   long long hi,
                                   QString* error) const;

private:
  QStringList m_positional;
  QList<QPair<QString, QString>> m_options;
};

/** @brief Prints one line to stderr and returns the code (for `return fail(...)`). */
int fail(int code, const QString& message);

/** @brief Writes text to `path`, or to stdout when path is empty or "-". */
bool writeOutput(const QString& path, const QByteArray& data, QString* error);

int trainCommand(const QStringList& args);
int benchCommand(const QStringList& args);
int targetCommand(const QStringList& args);
int partitionCommand(const QStringList& args);
int evalCommand(const QStringList& args);
int sampleCommand(const QStringList& args);
int densityCommand(const QStringList& args);
/** @brief Needs a QApplication; only in builds with the GUI. */
int exportCommand(const QStringList& args);

} // namespace gfm::cli
