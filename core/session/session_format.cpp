#include "core/session/session_format.h"

#include <QSysInfo>

#include <algorithm>
#include <cstring>
#include <type_traits>

namespace gfm::core {

namespace {

constexpr bool kHostIsLittleEndian = QSysInfo::ByteOrder == QSysInfo::LittleEndian;

// Element-wise byte reversal only on big-endian hosts; on little-endian ones a blob is the
// vector's memory, which keeps floats bit-exact (NaN payloads included).
template<typename T>
QByteArray toBlob(const std::vector<T>& values)
{
  static_assert(std::is_trivially_copyable_v<T>);
  QByteArray blob(static_cast<qsizetype>(values.size() * sizeof(T)), Qt::Uninitialized);
  if (!values.empty()) {
    std::memcpy(blob.data(), values.data(), values.size() * sizeof(T));
  }
  if constexpr (!kHostIsLittleEndian) {
    for (qsizetype i = 0; i < blob.size(); i += sizeof(T)) {
      std::reverse(blob.data() + i, blob.data() + i + sizeof(T));
    }
  }
  return blob;
}

template<typename T>
std::optional<std::vector<T>> fromBlob(const QByteArray& blob)
{
  if (blob.size() % static_cast<qsizetype>(sizeof(T)) != 0) {
    return std::nullopt;
  }
  std::vector<T> values(static_cast<std::size_t>(blob.size()) / sizeof(T));
  if (values.empty()) {
    return values;
  }
  QByteArray bytes = blob;
  if constexpr (!kHostIsLittleEndian) {
    for (qsizetype i = 0; i < bytes.size(); i += sizeof(T)) {
      std::reverse(bytes.data() + i, bytes.data() + i + sizeof(T));
    }
  }
  std::memcpy(values.data(), bytes.constData(), values.size() * sizeof(T));
  return values;
}

} // namespace

QString sessionStatusName(SessionStatus status)
{
  switch (status) {
    case SessionStatus::Running:
      return QStringLiteral("running");
    case SessionStatus::Completed:
      return QStringLiteral("completed");
    case SessionStatus::Stopped:
      return QStringLiteral("stopped");
    case SessionStatus::Failed:
      return QStringLiteral("failed");
  }
  return QStringLiteral("failed");
}

std::optional<SessionStatus> parseSessionStatus(const QString& name)
{
  for (auto s : { SessionStatus::Running,
                  SessionStatus::Completed,
                  SessionStatus::Stopped,
                  SessionStatus::Failed }) {
    if (sessionStatusName(s) == name) {
      return s;
    }
  }
  return std::nullopt;
}

QByteArray floatBlob(const std::vector<float>& values)
{
  return toBlob(values);
}

QByteArray doubleBlob(const std::vector<double>& values)
{
  return toBlob(values);
}

QByteArray int32Blob(const std::vector<std::int32_t>& values)
{
  return toBlob(values);
}

QByteArray int64Blob(const std::vector<std::int64_t>& values)
{
  return toBlob(values);
}

std::optional<std::vector<float>> floatsFromBlob(const QByteArray& blob)
{
  return fromBlob<float>(blob);
}

std::optional<std::vector<double>> doublesFromBlob(const QByteArray& blob)
{
  return fromBlob<double>(blob);
}

std::optional<std::vector<std::int32_t>> int32sFromBlob(const QByteArray& blob)
{
  return fromBlob<std::int32_t>(blob);
}

std::optional<std::vector<std::int64_t>> int64sFromBlob(const QByteArray& blob)
{
  return fromBlob<std::int64_t>(blob);
}

std::vector<QString> sessionSchema()
{
  // Doubles are REAL columns; SQLite stores NaN as NULL, so readers map NULL back to NaN.
  // Metrics rows carry an explicit id so that followers can ask for "rows after id n".
  return {
    QStringLiteral("CREATE TABLE meta (key TEXT PRIMARY KEY, value)"),
    QStringLiteral("CREATE TABLE runs (run INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                   "grp TEXT NOT NULL, seed INTEGER NOT NULL, parts INTEGER NOT NULL, "
                   "weights TEXT NOT NULL, steps INTEGER NOT NULL, part_of BLOB, "
                   "part_reward BLOB)"),
    QStringLiteral("CREATE TABLE arrays (name TEXT PRIMARY KEY, data BLOB NOT NULL)"),
    QStringLiteral("CREATE TABLE metrics (id INTEGER PRIMARY KEY, run INTEGER NOT NULL, "
                   "step INTEGER NOT NULL, total_steps INTEGER, wall REAL, steps_per_s REAL, "
                   "l1 REAL, tv REAL, l1_mean_abs REAL, l1_visited REAL, log_z REAL, "
                   "log_z_true REAL, mode_mass REAL, modes_found INTEGER, mode_count INTEGER, "
                   "loss REAL, UNIQUE (run, step))"),
    QStringLiteral("CREATE TABLE part_metrics (run INTEGER NOT NULL, step INTEGER NOT NULL, "
                   "part INTEGER NOT NULL, log_z REAL, log_z_true REAL, mass_true REAL, "
                   "weight REAL, l1 REAL, leak REAL, loss REAL, modes_found INTEGER, "
                   "PRIMARY KEY (run, step, part))"),
    QStringLiteral("CREATE TABLE densities (run INTEGER NOT NULL, step INTEGER NOT NULL, "
                   "part INTEGER NOT NULL, data BLOB NOT NULL, PRIMARY KEY (run, step, part))"),
    QStringLiteral("CREATE TABLE checkpoints (run INTEGER NOT NULL, part INTEGER NOT NULL, "
                   "step INTEGER NOT NULL, parameters BLOB NOT NULL, adam_first BLOB NOT NULL, "
                   "adam_second BLOB NOT NULL, log_z REAL, log_z_first REAL, "
                   "log_z_second REAL, rng BLOB NOT NULL, buffer BLOB NOT NULL, "
                   "modes_found INTEGER NOT NULL, visited BLOB, PRIMARY KEY (run, part, step))"),
  };
}

} // namespace gfm::core
