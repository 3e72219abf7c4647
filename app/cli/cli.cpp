#include "app/cli/cli.h"

#include <QFile>
#include <QTextStream>

#include <cstdio>

namespace gfm::cli {

std::optional<Arguments> Arguments::parse(const QStringList& args,
                                          const QStringList& valueOptions,
                                          const QStringList& flags, QString* error)
{
  Arguments out;
  for (int i = 0; i < args.size(); ++i) {
    // -n N is the one short option (sample's count); it reads as --n N.
    const QString arg = args.at(i) == QLatin1String("-n") ? QStringLiteral("--n") : args.at(i);
    if (!arg.startsWith(QLatin1String("--")) || arg == QLatin1String("--")) {
      out.m_positional << arg;
      continue;
    }
    QString name = arg.mid(2);
    QString value;
    const qsizetype eq = name.indexOf(QLatin1Char('='));
    const bool inlineValue = eq >= 0;
    if (inlineValue) {
      value = name.mid(eq + 1);
      name = name.left(eq);
    }
    if (flags.contains(name) && !inlineValue) {
      out.m_options.append({ name, QString() });
    } else if (valueOptions.contains(name)) {
      if (!inlineValue) {
        if (i + 1 >= args.size()) {
          *error = QStringLiteral("option --%1 needs a value").arg(name);
          return std::nullopt;
        }
        value = args.at(++i);
      }
      out.m_options.append({ name, value });
    } else {
      QStringList known;
      for (const QString& o : valueOptions + flags) {
        known << QStringLiteral("--") + o;
      }
      *error = QStringLiteral("unknown option --%1 (allowed: %2)")
                 .arg(name, known.join(QStringLiteral(", ")));
      return std::nullopt;
    }
  }
  return out;
}

bool Arguments::has(const QString& name) const
{
  for (const auto& [key, value] : m_options) {
    if (key == name) {
      return true;
    }
  }
  return false;
}

QString Arguments::value(const QString& name, const QString& fallback) const
{
  QString result = fallback;
  for (const auto& [key, value] : m_options) {
    if (key == name) {
      result = value;
    }
  }
  return result;
}

QStringList Arguments::values(const QString& name) const
{
  QStringList result;
  for (const auto& [key, value] : m_options) {
    if (key == name) {
      result << value;
    }
  }
  return result;
}

std::optional<long long> Arguments::integer(const QString& name, long long fallback, long long lo,
                                            long long hi, QString* error) const
{
  if (!has(name)) {
    return fallback;
  }
  bool ok = false;
  const long long v = value(name).toLongLong(&ok);
  if (!ok || v < lo || v > hi) {
    *error = QStringLiteral("--%1 must be an integer in [%2, %3], got \"%4\"")
               .arg(name)
               .arg(lo)
               .arg(hi)
               .arg(value(name));
    return std::nullopt;
  }
  return v;
}

int fail(int code, const QString& message)
{
  std::fprintf(stderr, "gflowmix-cli: %s\n", qPrintable(message));
  return code;
}

bool writeOutput(const QString& path, const QByteArray& data, QString* error)
{
  if (path.isEmpty() || path == QLatin1String("-")) {
    std::fwrite(data.constData(), 1, static_cast<std::size_t>(data.size()), stdout);
    std::fflush(stdout);
    return true;
  }
  QFile file(path);
  if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate) || file.write(data) != data.size()) {
    *error = QStringLiteral("%1: cannot write: %2").arg(path, file.errorString());
    return false;
  }
  return true;
}

} // namespace gfm::cli
