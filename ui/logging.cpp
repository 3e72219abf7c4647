#include "ui/logging.h"

namespace gfm::ui {

Q_LOGGING_CATEGORY(lcUi, "gfm.ui")

} // namespace gfm::ui
