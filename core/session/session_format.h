#pragma once

#include "core/util/logging.h"

#include <QByteArray>
#include <QString>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace gfm::core {

/**
 * @brief Version of the session schema. Readers refuse files with a newer version; bump it
 * whenever a table or a column changes meaning.
 *
 * 2: checkpoints.visited, the visited-states window (zlib-compressed int64 blob). Files of
 * version 1 lack the column; resuming one adds it.
 */
inline constexpr int kSessionFormatVersion = 2;

/** @brief Value of the `format` key in a session's `meta` table. */
inline constexpr char kSessionFormatName[] = "gflowmix-session";

/** @brief SQLite `PRAGMA application_id` of a session file: "GFMX" in ASCII. */
inline constexpr std::int32_t kSessionApplicationId = 0x47464D58;

/** @brief Where a session's training stands, as its writer last recorded it. */
enum class SessionStatus
{
  Running,   ///< a writer is (or was, if it crashed) appending
  Completed, ///< every run reached its last step
  Stopped,   ///< stopped by the user or closed before the end
  Failed     ///< training or writing failed
};

/** @brief "running", "completed", "stopped" or "failed". */
QString sessionStatusName(SessionStatus status);

/** @brief Inverse of sessionStatusName; nothing for an unknown name. */
std::optional<SessionStatus> parseSessionStatus(const QString& name);

/**
 * Blobs hold arrays as little-endian bytes, whatever the host: float32, float64, int32 and
 * int64 elements, no header (the element count is size / element size).
 */
QByteArray floatBlob(const std::vector<float>& values);
QByteArray doubleBlob(const std::vector<double>& values);
QByteArray int32Blob(const std::vector<std::int32_t>& values);
QByteArray int64Blob(const std::vector<std::int64_t>& values);

/** @brief Decoders of the blobs above; nothing when the size is not a whole element count. */
std::optional<std::vector<float>> floatsFromBlob(const QByteArray& blob);
std::optional<std::vector<double>> doublesFromBlob(const QByteArray& blob);
std::optional<std::vector<std::int32_t>> int32sFromBlob(const QByteArray& blob);
std::optional<std::vector<std::int64_t>> int64sFromBlob(const QByteArray& blob);

/** @brief Tables of a session at kSessionFormatVersion, one CREATE statement each. */
std::vector<QString> sessionSchema();

} // namespace gfm::core
