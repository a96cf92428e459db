// The vSphere Client stand-in's page (served at /ui/).
import '@clr/ui/clr-ui.min.css';
import '@cds/core/global.min.css';
import './shell/styles.css';
import '@cds/core/icon/register.js';
import {
  ClarityIcons,
  angleIcon,
  barsIcon,
  buildingIcon,
  errorStandardIcon,
  folderIcon,
  folderOpenIcon,
  hostGroupIcon,
  hostIcon,
  infoStandardIcon,
  moonIcon,
  networkGlobeIcon,
  pluginIcon,
  refreshIcon,
  storageIcon,
  successStandardIcon,
  sunIcon,
  userIcon,
  vmBugIcon,
  vmIcon,
  warningStandardIcon,
  windowCloseIcon,
} from '@cds/core/icon';
import { createRoot } from 'react-dom/client';
import { App } from './shell/App.tsx';

ClarityIcons.addIcons(
  angleIcon,
  barsIcon,
  buildingIcon,
  errorStandardIcon,
  folderIcon,
  folderOpenIcon,
  hostGroupIcon,
  hostIcon,
  infoStandardIcon,
  moonIcon,
  networkGlobeIcon,
  pluginIcon,
  refreshIcon,
  storageIcon,
  successStandardIcon,
  sunIcon,
  userIcon,
  vmBugIcon,
  vmIcon,
  warningStandardIcon,
  windowCloseIcon,
);

const root = document.getElementById('root');
if (root) createRoot(root).render(<App />);
