/* binding.gyp's way to compile llhttp's api.c where Debian's node-llhttp installs it (gyp cannot
 * list a source outside the package): the folder is on the include path (native-sources.js
 * --llhttp-source), the file is never copied into this repository. CMake lists it directly. */
#include <api.c>
