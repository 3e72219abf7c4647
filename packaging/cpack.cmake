# Install rules for the desktop integration and data, and a DEB package through CPack.
include(GNUInstallDirs)

set(GFLOWMIX_APP_ID io.github.gflowmix.Gflowmix)

install(DIRECTORY ${PROJECT_SOURCE_DIR}/resources/experiments/
        DESTINATION ${CMAKE_INSTALL_DATADIR}/gflowmix/experiments
        FILES_MATCHING PATTERN "*.json")
if(GFLOWMIX_BUILD_GUI)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/${GFLOWMIX_APP_ID}.desktop
          DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES ${PROJECT_SOURCE_DIR}/packaging/${GFLOWMIX_APP_ID}.metainfo.xml
          DESTINATION ${CMAKE_INSTALL_DATADIR}/metainfo)
  install(FILES ${PROJECT_SOURCE_DIR}/resources/icons/${GFLOWMIX_APP_ID}.svg
          DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
endif()

set(CPACK_PACKAGE_NAME gflowmix)
set(CPACK_PACKAGE_VENDOR "The gflowmix developers")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "The gflowmix developers <gflowmix@users.noreply.github.com>")
set(CPACK_PACKAGE_HOMEPAGE_URL "https://github.com/gflowmix/gflowmix")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps reads the binaries' NEEDED entries: Qt 6, QCustomPlot, LibTorch, …
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
  "gflowmix trains a mixture of generative flow networks, one per disjoint part of the\n\
state space, on threads, processes or MPI ranks. It ships a Qt workbench (gflowmix)\n\
that shows the densities and curves live and exports figures, and a command line\n\
(gflowmix-cli) for scripts and clusters.")

include(CPack)
