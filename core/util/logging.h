#pragma once

#include <QLoggingCategory>

namespace gfm::core {

/** @brief Logging categories of the core layer (a message handler in app/ routes them). */
Q_DECLARE_LOGGING_CATEGORY(lcCore)
Q_DECLARE_LOGGING_CATEGORY(lcTrain)
Q_DECLARE_LOGGING_CATEGORY(lcSession)

} // namespace gfm::core
