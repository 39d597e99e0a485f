/* Placeholder: the decoder of Kubernetes objects lands with the snapshot reader. */
#include "snapshot.h"
