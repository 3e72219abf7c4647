#include "core/util/logging.h"

namespace gfm::core {

Q_LOGGING_CATEGORY(lcCore, "gfm.core")
Q_LOGGING_CATEGORY(lcTrain, "gfm.train")
Q_LOGGING_CATEGORY(lcSession, "gfm.session")

} // namespace gfm::core
