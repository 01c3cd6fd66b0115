// The entry point every Morgana application defines. The platform calls it after the
// runtime is up (static constructors run, devices attached); its return value becomes
// the image's exit status (0..125).
#pragma once

// argv[0] is the image name, then the application's arguments (what follows `--` on
// the morgana-hvt / morgana run command line).
int app_main(int argc, char** argv);
