#pragma once

#include <QLoggingCategory>

namespace gfm::ui {

/** @brief The logging category of every ui/ class: "gfm.ui". */
Q_DECLARE_LOGGING_CATEGORY(lcUi)

} // namespace gfm::ui
