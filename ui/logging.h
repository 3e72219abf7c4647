#pragma once

#include <QLoggingCategory>

/** @brief The logging category of every ui/ class: "gfm.ui". */
Q_DECLARE_LOGGING_CATEGORY(lcUi)
