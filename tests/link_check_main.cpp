// SPDX-License-Identifier: Apache-2.0
// Purpose: the program each atrous_link_check_<layer> links one layer's library into (every
// object of it): it builds only when the layer needs nothing beyond its declared dependencies.
int main()
{
    return 0;
}
